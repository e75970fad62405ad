"""The tables kept from the reporting history: ``commitment_latest``, the spans,
``update_month``, the reported fields of ``commitment_figures`` and the timeline's rows
(``timeline_days``). A post updates them in its own transaction (``note_update``,
``note_assessment``); bulk loads and rows written elsewhere rebuild them from the
history (``refresh_latest``). Queries only, like a repository.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Insert, ScalarSelect, Select, Table, delete, func, insert, or_
from sqlalchemy import select as sa_select
from sqlalchemy import update as sa_update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from vpitracker.commitments import timeline_days
from vpitracker.commitments.repository import month_of
from vpitracker.kernel import figures
from vpitracker.models import (
    Assessment,
    Commitment,
    CommitmentAssessmentSpan,
    CommitmentClosedSpan,
    CommitmentLatest,
    CommitmentUpdateSpan,
    StatusUpdate,
    UpdateMonth,
    table_of,
)
from vpitracker.vocab import CLOSED_STATUSES

_CLOSED = [s.value for s in CLOSED_STATUSES]


def _latest_of(session: Session, commitment_id: int) -> CommitmentLatest:
    """The commitment's ``commitment_latest`` row (a new one before its first report)."""
    latest = session.get(CommitmentLatest, commitment_id)
    return CommitmentLatest(commitment_id=commitment_id) if latest is None else latest


def _before(
    record: tuple[datetime, int | None], newest: tuple[datetime | None, int | None]
) -> bool:
    """Whether ``record`` (time, id) comes before the ``newest`` noted so far, if any."""
    (at, key), (record_at, record_id) = newest, record
    return at is not None and key is not None and (at, key) > (record_at, record_id or 0)


def note_update(session: Session, update: StatusUpdate) -> list[Insert]:
    """Keep ``commitment_latest``, the spans and the commitment's timeline rows current
    after a status update; the changes to ``timeline_day`` are returned, to be written
    with the update's audit event as the month's count (``month_count``) is.

    The commitment row is locked, so posts to one commitment are serialized.
    """
    latest = _latest_of(session, update.commitment_id)
    if _before((update.reported_at, update.id), (latest.reported_at, latest.update_id)):
        # An older (imported) report does not replace the newest, but it splits a span.
        refresh_spans(session, [update.commitment_id])
        return timeline_days.rewrite(session, [update.commitment_id])
    _extend_spans(session, latest, update)
    figures.note_update(
        session, update.commitment_id, update.status, update.progress_percent, update.reported_at
    )
    latest.update_id = update.id
    latest.reported_at = update.reported_at
    latest.status = update.status
    latest.progress_percent = update.progress_percent
    session.add(latest)
    session.flush()
    return timeline_days.rewrite(session, [update.commitment_id])


def note_assessment(session: Session, assessment: Assessment) -> None:
    """Keep ``commitment_latest`` current after an assessment (commitment row locked)."""
    latest = _latest_of(session, assessment.commitment_id)
    if _before((assessment.assessed_at, assessment.id), (latest.assessed_at, latest.assessment_id)):
        # An older (imported) assessment does not replace the newest, but it splits a span.
        refresh_assessment_spans(session, [assessment.commitment_id])
        return
    _roll_span(
        session,
        table_of(CommitmentAssessmentSpan),
        key="assessment_id",
        ended=latest.assessment_id,
        opened={
            "assessment_id": assessment.id,
            "commitment_id": assessment.commitment_id,
            "verdict": assessment.verdict,
            "assessed_at": assessment.assessed_at,
        },
        at=assessment.assessed_at,
    )
    figures.note_assessment(
        session, assessment.commitment_id, assessment.verdict, assessment.assessed_at
    )
    latest.assessment_id = assessment.id
    latest.assessed_at = assessment.assessed_at
    latest.verdict = assessment.verdict
    session.add(latest)
    session.flush()


def _roll_span(
    session: Session,
    spans: Table,
    *,
    key: str,
    ended: int | None,
    opened: Mapping[str, Any] | None,
    at: datetime,
) -> None:
    """The newest record, at ``at``, ends the span of the one before (``ended``: its key,
    if it had a span here) and opens its own (``opened``: its columns, if it has one).
    """
    if ended is not None:
        session.execute(sa_update(spans).where(spans.c[key] == ended).values(until=at))
    if opened is not None:
        session.execute(insert(spans).values(**opened, until=None))


def _extend_spans(session: Session, latest: CommitmentLatest, update: StatusUpdate) -> None:
    """``update`` is the commitment's newest: it ends the previous spans and opens its own
    (a closed span only while a closed status is current).
    """
    opened = {
        "update_id": update.id,
        "commitment_id": update.commitment_id,
        "status": update.status,
        "reported_at": update.reported_at,
    }
    _roll_span(
        session,
        table_of(CommitmentUpdateSpan),
        key="update_id",
        ended=latest.update_id,
        opened={**opened, "progress_percent": update.progress_percent},
        at=update.reported_at,
    )
    _roll_span(
        session,
        table_of(CommitmentClosedSpan),
        key="update_id",
        ended=latest.update_id if latest.status in _CLOSED else None,
        opened=opened if update.status in _CLOSED else None,
        at=update.reported_at,
    )


def _clear(session: Session, table: Table, ids: list[int] | None) -> None:
    remove = delete(table)
    if ids is not None:
        remove = remove.where(table.c.commitment_id.in_(ids))
    session.execute(remove)


def refresh_spans(session: Session, commitment_ids: Iterable[int] | None = None) -> None:
    """Rebuild the update spans (all, and closed) from the history (all, or these)."""
    closed, every, su = (
        table_of(CommitmentClosedSpan),
        table_of(CommitmentUpdateSpan),
        table_of(StatusUpdate),
    )
    ids = None if commitment_ids is None else sorted(set(commitment_ids))
    _clear(session, closed, ids)
    _clear(session, every, ids)
    following = func.lead(su.c.reported_at).over(
        partition_by=su.c.commitment_id, order_by=(su.c.reported_at, su.c.id)
    )
    history_rows = sa_select(
        su.c.id,
        su.c.commitment_id,
        su.c.status,
        su.c.progress_percent,
        su.c.reported_at,
        following.label("until"),
    )
    if ids is not None:
        history_rows = history_rows.where(su.c.commitment_id.in_(ids))
    session.execute(
        insert(every).from_select(
            ["update_id", "commitment_id", "status", "progress_percent", "reported_at", "until"],
            history_rows,
        )
    )
    # The closed spans are the closed statuses' rows of the spans just written.
    session.execute(
        insert(closed).from_select(
            ["update_id", "commitment_id", "status", "reported_at", "until"],
            sa_select(
                every.c.update_id, every.c.commitment_id, every.c.status, every.c.reported_at,
                every.c.until,
            ).where(
                every.c.status.in_(_CLOSED),
                *(() if ids is None else (every.c.commitment_id.in_(ids),)),
            ),
        )
    )  # fmt: skip
    refresh_assessment_spans(session, ids)


def refresh_assessment_spans(session: Session, commitment_ids: Iterable[int] | None = None) -> None:
    """Rebuild ``commitment_assessment_span`` from the history (all, or these commitments)."""
    spans, a = table_of(CommitmentAssessmentSpan), table_of(Assessment)
    ids = None if commitment_ids is None else sorted(set(commitment_ids))
    _clear(session, spans, ids)
    following = func.lead(a.c.assessed_at).over(
        partition_by=a.c.commitment_id, order_by=(a.c.assessed_at, a.c.id)
    )
    rows = sa_select(a.c.id, a.c.commitment_id, a.c.verdict, a.c.assessed_at, following)
    if ids is not None:
        rows = rows.where(a.c.commitment_id.in_(ids))
    session.execute(
        insert(spans).from_select(
            ["assessment_id", "commitment_id", "verdict", "assessed_at", "until"], rows
        )
    )


def month_count(session: Session, reported_at: datetime) -> Insert:
    """One more update in ``reported_at``'s month (``update_month``): an upsert of the
    one row every post of the month writes, so it is made under the chain lock."""
    months = table_of(UpdateMonth)
    key = reported_at.astimezone(UTC).strftime("%Y-%m")
    dialect = session.get_bind().dialect.name
    upsert = (pg_insert if dialect == "postgresql" else sqlite_insert)(months).values(
        month=key, updates=1
    )
    return upsert.on_conflict_do_update(
        index_elements=[months.c.month], set_={"updates": months.c.updates + 1}
    )


def refresh_update_months(session: Session) -> None:
    """Rebuild ``update_month`` from the history (whole table: it is a row a month)."""
    months, su = table_of(UpdateMonth), table_of(StatusUpdate)
    month = month_of(su.c.reported_at, session.get_bind().dialect.name)
    session.execute(delete(months))
    session.execute(
        insert(months).from_select(
            ["month", "updates"], sa_select(month, func.count()).group_by(month)
        )
    )


def refresh_latest(session: Session, commitment_ids: Iterable[int] | None = None) -> None:
    """Rebuild ``commitment_latest``, the spans, the month counts, the figures rows
    (``commitment_figures``) and the timeline's rows from the records.

    For bulk loads and rows written outside the reporting service.
    """
    refresh_spans(session, commitment_ids)
    refresh_update_months(session)
    timeline_days.refresh(session, commitment_ids)
    ids = None if commitment_ids is None else sorted(set(commitment_ids))
    latest = table_of(CommitmentLatest)
    _clear(session, latest, ids)
    session.execute(
        insert(latest).from_select(
            [
                "commitment_id", "update_id", "reported_at", "status", "progress_percent",
                "assessment_id", "assessed_at", "verdict",
            ],
            _history_latest(ids),
        )
    )  # fmt: skip
    figures.refresh(session, ids)
    session.flush()


# A commitment_latest row: the commitment, its newest update's id, time, status and
# percentage, its newest assessment's id, time and verdict (either side may be missing).
LatestRow = tuple[
    int,
    int | None,
    datetime | None,
    str | None,
    int | None,
    int | None,
    datetime | None,
    str | None,
]


def _newest(history: Table, at: str, commitments: Table) -> ScalarSelect[int]:
    """The id of each commitment's newest row of ``history`` (by ``at``, then id)."""
    return (
        sa_select(history.c.id)
        .where(history.c.commitment_id == commitments.c.id)
        .order_by(history.c[at].desc(), history.c.id.desc())
        .limit(1)
        .correlate(commitments)
        .scalar_subquery()
    )


def _history_latest(ids: list[int] | None) -> Select[*LatestRow]:
    c, su, a = table_of(Commitment), table_of(StatusUpdate), table_of(Assessment)
    newest_update = _newest(su, "reported_at", c)
    newest_assessment = _newest(a, "assessed_at", c)
    stmt = (
        sa_select(
            c.c.id, su.c.id, su.c.reported_at, su.c.status, su.c.progress_percent,
            a.c.id, a.c.assessed_at, a.c.verdict,
        )
        .select_from(c)
        .outerjoin(su, su.c.id == newest_update)
        .outerjoin(a, a.c.id == newest_assessment)
        .where(or_(su.c.id.is_not(None), a.c.id.is_not(None)))
    )  # fmt: skip
    if ids is not None:
        stmt = stmt.where(c.c.id.in_(ids))
    return stmt
