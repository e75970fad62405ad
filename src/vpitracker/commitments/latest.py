"""The tables kept from the reporting history: ``commitment_latest``, the spans,
``update_month``, the reported fields of ``commitment_figures`` and the timeline's rows
(``timeline_days``). A post updates them in its own transaction (``note_report``);
bulk loads and rows written elsewhere rebuild them from the
history (``refresh_latest``). Queries only, like a repository.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    Insert,
    ScalarSelect,
    Select,
    Table,
    UpdateBase,
    bindparam,
    delete,
    func,
    insert,
    or_,
)
from sqlalchemy import select as sa_select
from sqlalchemy import update as sa_update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, SQLModel

from vpitracker.commitments import timeline_days
from vpitracker.commitments.repository import month_of
from vpitracker.db import Bound, together
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


def _before(
    record: tuple[datetime, int | None], newest: tuple[datetime | None, int | None]
) -> bool:
    """Whether ``record`` (time, id) comes before the ``newest`` noted so far, if any."""
    (at, key), (record_at, record_id) = newest, record
    return at is not None and key is not None and (at, key) > (record_at, record_id or 0)


@dataclass(frozen=True)
class _Kept:
    """What one kind of report keeps: the ``commitment_latest`` columns that name its
    newest record (``key``) and time (``at``) and the fields copied from it, its spans
    (the closed spans too, for status updates) and the same fields of
    ``commitment_figures``."""

    key: str
    at: str
    fields: tuple[str, ...]
    spans: type[SQLModel]
    closed: type[SQLModel] | None = None
    span_fields: tuple[str, ...] = ()


_UPDATE = _Kept(
    "update_id",
    "reported_at",
    ("status", "progress_percent"),
    CommitmentUpdateSpan,
    CommitmentClosedSpan,
    ("status",),
)
_ASSESSMENT = _Kept("assessment_id", "assessed_at", ("verdict",), CommitmentAssessmentSpan)


def _param(name: str) -> BindParameter[Any]:
    """The bound value ``name`` of a note's statements, typed as commitment_latest's
    column (the record's id as ``id``, the one its span ends as ``ended``)."""
    latest = table_of(CommitmentLatest)
    column = {"id": "update_id", "ended": "update_id"}.get(name, name)
    return bindparam(f"n_{name}", type_=latest.c[column].type)


@cache
def _newest_read() -> Select[Any]:
    latest = table_of(CommitmentLatest)
    return sa_select(
        latest.c.update_id, latest.c.reported_at, latest.c.status,
        latest.c.assessment_id, latest.c.assessed_at,
    ).where(latest.c.commitment_id == _param("commitment_id"))  # fmt: skip


@cache
def _note_writes(
    dialect: str, kept: _Kept, ends: bool, ends_closed: bool, opens_closed: bool
) -> list[UpdateBase]:
    """The writes that make a record its commitment's newest, bound by name (``_param``):
    the span of the one before ended (``ends``), its own opened, the closed spans
    likewise, the figures row and ``commitment_latest``. Built once per shape and run
    together: one statement on PostgreSQL."""
    latest = table_of(CommitmentLatest)
    values = {name: _param(name) for name in (kept.at, *kept.fields)}
    spans = table_of(kept.spans)
    opened = {
        kept.key: _param("id"),
        "commitment_id": _param("commitment_id"),
        kept.at: values[kept.at],
    }
    writes: list[UpdateBase] = [
        figures.note_newest(values),
        insert(spans).values(
            **opened, **{f: values[f] for f in kept.fields if f in spans.c}, until=None
        ),
    ]
    if ends:
        writes.append(
            sa_update(spans)
            .where(spans.c[kept.key] == _param("ended"))
            .values(until=values[kept.at])
        )
    if kept.closed is not None:
        closed = table_of(kept.closed)
        if ends_closed:
            writes.append(
                sa_update(closed)
                .where(closed.c[kept.key] == _param("ended"))
                .values(until=values[kept.at])
            )
        if opens_closed:
            writes.append(
                insert(closed).values(
                    **opened, **{f: values[f] for f in kept.span_fields}, until=None
                )
            )
    upsert = (pg_insert if dialect == "postgresql" else sqlite_insert)(latest).values(
        commitment_id=_param("commitment_id"), **{kept.key: _param("id")}, **values
    )
    writes.append(
        upsert.on_conflict_do_update(
            index_elements=[latest.c.commitment_id],
            set_={c: upsert.excluded[c] for c in (kept.key, *values)},
        )
    )
    return together(dialect, writes)


def note_report(session: Session, record: StatusUpdate | Assessment) -> list[Bound]:
    """Keep ``commitment_latest``, the spans, the figures row and (status updates) the
    commitment's timeline rows current after a new report; the changes to
    ``timeline_day`` are returned, to be written with the report's audit event as the
    month's count (``month_count``) is.

    The commitment row is locked, so posts to one commitment are serialized.
    """
    assert record.id is not None
    is_update = isinstance(record, StatusUpdate)
    kept = _UPDATE if is_update else _ASSESSMENT
    at = record.reported_at if isinstance(record, StatusUpdate) else record.assessed_at
    newest = session.execute(
        _newest_read(), {"n_commitment_id": record.commitment_id}
    ).one_or_none()
    (ended, newest_at, newest_status) = (
        (None, None, None) if newest is None
        else (newest[0], newest[1], newest[2]) if is_update
        else (newest[3], newest[4], None)
    )  # fmt: skip
    if _before((at, record.id), (newest_at, ended)):
        # An older (imported) report does not replace the newest, but it splits a span.
        if not is_update:
            refresh_assessment_spans(session, [record.commitment_id])
            return []
        refresh_spans(session, [record.commitment_id])
        return timeline_days.rewrite(session, [record.commitment_id])
    params = {
        "n_commitment_id": record.commitment_id,
        "n_id": record.id,
        "n_ended": ended,
        f"n_{kept.at}": at,
        **{f"n_{f}": getattr(record, f) for f in kept.fields},
    }
    writes = _note_writes(
        session.get_bind().dialect.name,
        kept,
        ended is not None,
        ended is not None and newest_status in _CLOSED,
        isinstance(record, StatusUpdate) and record.status in _CLOSED,
    )
    for write in writes:
        session.execute(write, params)
    return timeline_days.rewrite(session, [record.commitment_id]) if is_update else []


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


@cache
def _month_write(dialect: str, prefix: str) -> Insert:
    months = table_of(UpdateMonth)
    upsert = (pg_insert if dialect == "postgresql" else sqlite_insert)(months).values(
        month=bindparam(prefix + "month", type_=months.c.month.type), updates=1
    )
    return upsert.on_conflict_do_update(
        index_elements=[months.c.month], set_={"updates": months.c.updates + 1}
    )


def month_count(reported_at: datetime) -> Bound:
    """One more update in ``reported_at``'s month (``update_month``): an upsert of the
    one row every post of the month writes, so it is made under the chain lock."""
    return Bound(_month_write, {"month": reported_at.astimezone(UTC).strftime("%Y-%m")})


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
