"""Commitment queries, derived state included."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Row, Select, delete, exists, func, insert, or_
from sqlalchemy import select as sa_select
from sqlalchemy import update as sa_update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from vpitracker.kernel.clock import Clock
from vpitracker.kernel.filters import CommitmentFilters
from vpitracker.kernel.state import state_columns
from vpitracker.models import (
    Assessment,
    Commitment,
    CommitmentAssessmentSpan,
    CommitmentClosedSpan,
    CommitmentLatest,
    CommitmentRecommendation,
    CommitmentSupport,
    CommitmentUpdateSpan,
    Provision,
    RecommendationProvision,
    StatusUpdate,
    UpdateMonth,
    table_of,
)
from vpitracker.pagination import PageRequest, paginate_rows
from vpitracker.vocab import CLOSED_STATUSES

SORTS = {
    "id": col(Commitment.id),
    "code": col(Commitment.code),
    "due_date": col(Commitment.due_date),
    "committed_on": col(Commitment.committed_on),
    "created_at": col(Commitment.created_at),
}


class CommitmentWithState(NamedTuple):
    """A commitment and its derived state at a clock (docs/concepts.md)."""

    commitment: Commitment
    reported_status: str
    progress_percent: int
    last_reported_at: datetime | None
    verdict: str
    contested: bool
    overdue: bool
    stale: bool


def _with_state(row: Row[Commitment, *tuple[Any, ...]]) -> CommitmentWithState:
    state = row._mapping
    return CommitmentWithState(
        row[0],
        state["reported_status"],
        state["progress_percent"],
        state["last_reported_at"],
        state["verdict"],
        # SQLite answers CASE ... THEN TRUE with 1 and 0.
        bool(state["contested"]),
        bool(state["overdue"]),
        bool(state["stale"]),
    )


def get(session: Session, commitment_id: int, *, for_update: bool = False) -> Commitment | None:
    stmt = select(Commitment).where(Commitment.id == commitment_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.exec(stmt).first()


def by_code(session: Session, code: str) -> Commitment | None:
    return session.exec(select(Commitment).where(Commitment.code == code)).first()


def _provision_filter(cluster: int | None, instrument: str | None) -> ColumnElement[bool]:
    """Commitments with a recommendation tied to a provision of this cluster/instrument."""
    stmt = (
        select(CommitmentRecommendation.commitment_id)
        .join(
            RecommendationProvision,
            col(RecommendationProvision.recommendation_id)
            == col(CommitmentRecommendation.recommendation_id),
        )
        .join(Provision, col(Provision.key) == col(RecommendationProvision.provision_key))
    )
    if cluster is not None:
        stmt = stmt.where(Provision.cluster == cluster)
    if instrument is not None:
        stmt = stmt.where(Provision.instrument == instrument)
    return col(Commitment.id).in_(stmt)


def _needs_state(filters: CommitmentFilters) -> bool:
    return any(
        getattr(filters, f) is not None
        for f in ("reported_status", "verdict", "contested", "overdue", "stale")
    )


def select_with_state(
    clock: Clock, filters: CommitmentFilters, *, with_state: bool = True
) -> Select[*tuple[Any, ...]]:
    """Commitments and their derived state, filtered (in SQL) by everything in ``filters``.

    The statement's columns are the commitment then ``STATE_FIELDS`` (read them through
    ``list_commitments``/``get_with_state``); progress and reports count over it.

    ``with_state=False`` selects the commitments alone (cheaper) when no derived
    column is wanted and no filter needs one.
    """
    stmt: Select[*tuple[Any, ...]]
    state: dict[str, ColumnElement[Any]] = {}
    if with_state or _needs_state(filters):
        columns = state_columns(clock, table_of(Commitment))
        state = columns.fields
        stmt = sa_select(Commitment, *columns.labelled()).select_from(columns.joined)
    else:
        stmt = sa_select(Commitment)
    if not filters.include_archived:
        stmt = stmt.where(col(Commitment.archived_at).is_(None))
    if clock.as_of is not None:
        stmt = stmt.where(col(Commitment.committed_on) <= clock.as_of)
    if filters.q:
        needle = filters.q.lower()
        stmt = stmt.where(
            or_(
                func.lower(Commitment.title).contains(needle, autoescape=True),
                func.lower(Commitment.code).contains(needle, autoescape=True),
            )
        )
    if filters.ministry_id is not None:
        supporting = exists().where(
            col(CommitmentSupport.commitment_id) == col(Commitment.id),
            col(CommitmentSupport.ministry_id) == filters.ministry_id,
        )
        stmt = stmt.where(or_(col(Commitment.lead_ministry_id) == filters.ministry_id, supporting))
    if filters.lead_ministry_id is not None:
        stmt = stmt.where(col(Commitment.lead_ministry_id) == filters.lead_ministry_id)
    if filters.recommendation_id is not None:
        stmt = stmt.where(
            exists().where(
                col(CommitmentRecommendation.commitment_id) == col(Commitment.id),
                col(CommitmentRecommendation.recommendation_id) == filters.recommendation_id,
            )
        )
    if filters.reported_status is not None:
        stmt = stmt.where(state["reported_status"] == filters.reported_status)
    if filters.verdict is not None:
        stmt = stmt.where(state["verdict"] == filters.verdict)
    for flag in ("contested", "overdue", "stale"):
        wanted = getattr(filters, flag)
        if wanted is not None:
            stmt = stmt.where(state[flag] == wanted)
    if filters.due_before is not None:
        stmt = stmt.where(col(Commitment.due_date) < filters.due_before)
    if filters.due_after is not None:
        stmt = stmt.where(col(Commitment.due_date) > filters.due_after)
    if filters.cluster is not None or filters.instrument is not None:
        stmt = stmt.where(_provision_filter(filters.cluster, filters.instrument))
    return stmt


def list_commitments(
    session: Session, *, clock: Clock, filters: CommitmentFilters, page: PageRequest
) -> tuple[list[CommitmentWithState], str | None]:
    stmt = select_with_state(clock, filters)
    rows, next_cursor = paginate_rows(
        session, stmt, page=page, sort_columns=SORTS, id_column=col(Commitment.id)
    )
    return [_with_state(row) for row in rows], next_cursor


def get_with_state(
    session: Session, commitment_id: int, clock: Clock
) -> CommitmentWithState | None:
    state = state_columns(clock, table_of(Commitment))
    stmt = (
        sa_select(Commitment, *state.labelled())
        .select_from(state.joined)
        .where(col(Commitment.id) == commitment_id)
    )
    row = session.execute(stmt).first()
    return None if row is None else _with_state(row)


def links(
    session: Session, commitment_ids: Iterable[int]
) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """(recommendation ids, supporting ministry ids) per commitment."""
    ids = list(commitment_ids)
    recs: dict[int, list[int]] = {i: [] for i in ids}
    support: dict[int, list[int]] = {i: [] for i in ids}
    if not ids:
        return recs, support
    for cid, rid in session.execute(
        select(CommitmentRecommendation.commitment_id, CommitmentRecommendation.recommendation_id)
        .where(col(CommitmentRecommendation.commitment_id).in_(ids))
        .order_by(col(CommitmentRecommendation.recommendation_id))
    ).all():
        recs[cid].append(rid)
    for cid, mid in session.execute(
        select(CommitmentSupport.commitment_id, CommitmentSupport.ministry_id)
        .where(col(CommitmentSupport.commitment_id).in_(ids))
        .order_by(col(CommitmentSupport.ministry_id))
    ).all():
        support[cid].append(mid)
    return recs, support


def set_links(
    session: Session,
    commitment_id: int,
    *,
    recommendation_ids: Iterable[int] | None = None,
    supporting_ministry_ids: Iterable[int] | None = None,
) -> None:
    if recommendation_ids is not None:
        session.execute(
            delete(CommitmentRecommendation).where(
                col(CommitmentRecommendation.commitment_id) == commitment_id
            )
        )
        for rid in sorted(set(recommendation_ids)):
            session.add(
                CommitmentRecommendation(commitment_id=commitment_id, recommendation_id=rid)
            )
    if supporting_ministry_ids is not None:
        session.execute(
            delete(CommitmentSupport).where(col(CommitmentSupport.commitment_id) == commitment_id)
        )
        for mid in sorted(set(supporting_ministry_ids)):
            session.add(CommitmentSupport(commitment_id=commitment_id, ministry_id=mid))
    session.flush()


def note_update(session: Session, update: StatusUpdate) -> None:
    """Keep ``commitment_latest`` and the closed spans current after a status update.

    The commitment row is locked, so posts to one commitment are serialized.
    """
    _count_month(session, update.reported_at)
    latest = session.get(CommitmentLatest, update.commitment_id)
    if latest is None:
        latest = CommitmentLatest(commitment_id=update.commitment_id)
    elif (
        latest.reported_at is not None
        and latest.update_id is not None
        and ((latest.reported_at, latest.update_id) > (update.reported_at, update.id or 0))
    ):
        # An older (imported) report does not replace the newest, but it splits a span.
        refresh_spans(session, [update.commitment_id])
        return
    _extend_spans(session, latest, update)
    latest.update_id = update.id
    latest.reported_at = update.reported_at
    latest.status = update.status
    latest.progress_percent = update.progress_percent
    session.add(latest)
    session.flush()


def note_assessment(session: Session, assessment: Assessment) -> None:
    """Keep ``commitment_latest`` current after an assessment (commitment row locked)."""
    latest = session.get(CommitmentLatest, assessment.commitment_id)
    if latest is None:
        latest = CommitmentLatest(commitment_id=assessment.commitment_id)
    elif (
        latest.assessed_at is not None
        and latest.assessment_id is not None
        and (
            (latest.assessed_at, latest.assessment_id)
            > (assessment.assessed_at, assessment.id or 0)
        )
    ):
        # An older (imported) assessment does not replace the newest, but it splits a span.
        refresh_assessment_spans(session, [assessment.commitment_id])
        return
    _extend_assessment_spans(session, latest, assessment)
    latest.assessment_id = assessment.id
    latest.assessed_at = assessment.assessed_at
    latest.verdict = assessment.verdict
    session.add(latest)
    session.flush()


_CLOSED = [s.value for s in CLOSED_STATUSES]


def _extend_spans(session: Session, latest: CommitmentLatest, update: StatusUpdate) -> None:
    """``update`` is the commitment's newest: it ends the previous spans and opens its own."""
    every = table_of(CommitmentUpdateSpan)
    if latest.update_id is not None:
        session.execute(
            sa_update(every)
            .where(every.c.update_id == latest.update_id)
            .values(until=update.reported_at)
        )
    session.execute(
        insert(every).values(
            update_id=update.id,
            commitment_id=update.commitment_id,
            status=update.status,
            progress_percent=update.progress_percent,
            reported_at=update.reported_at,
            until=None,
        )
    )
    spans = table_of(CommitmentClosedSpan)
    if latest.update_id is not None and latest.status in _CLOSED:
        session.execute(
            sa_update(spans)
            .where(spans.c.update_id == latest.update_id)
            .values(until=update.reported_at)
        )
    if update.status in _CLOSED:
        session.execute(
            insert(spans).values(
                update_id=update.id,
                commitment_id=update.commitment_id,
                status=update.status,
                reported_at=update.reported_at,
                until=None,
            )
        )


def _extend_assessment_spans(
    session: Session, latest: CommitmentLatest, assessment: Assessment
) -> None:
    """``assessment`` is the commitment's newest: it ends the previous span, opens its own."""
    spans = table_of(CommitmentAssessmentSpan)
    if latest.assessment_id is not None:
        session.execute(
            sa_update(spans)
            .where(spans.c.assessment_id == latest.assessment_id)
            .values(until=assessment.assessed_at)
        )
    session.execute(
        insert(spans).values(
            assessment_id=assessment.id,
            commitment_id=assessment.commitment_id,
            verdict=assessment.verdict,
            assessed_at=assessment.assessed_at,
            until=None,
        )
    )


def _clear(session: Session, table: Any, ids: list[int] | None) -> None:
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


def month_of(column: ColumnElement[datetime], dialect: str) -> ColumnElement[str]:
    """The UTC calendar month (``YYYY-MM``) of a timestamp column."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM")
    return func.strftime("%Y-%m", column)


def _count_month(session: Session, reported_at: datetime) -> None:
    """One more update in ``reported_at``'s month (``update_month``)."""
    months = table_of(UpdateMonth)
    key = reported_at.astimezone(UTC).strftime("%Y-%m")
    dialect = session.get_bind().dialect.name
    upsert = (pg_insert if dialect == "postgresql" else sqlite_insert)(months).values(
        month=key, updates=1
    )
    session.execute(
        upsert.on_conflict_do_update(
            index_elements=[months.c.month], set_={"updates": months.c.updates + 1}
        )
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
    """Rebuild ``commitment_latest``, the closed spans and the month counts from the history.

    For bulk loads and rows written outside the reporting service.
    """
    refresh_spans(session, commitment_ids)
    refresh_update_months(session)
    latest = table_of(CommitmentLatest)
    ids = None if commitment_ids is None else sorted(set(commitment_ids))
    remove = delete(latest)
    if ids is not None:
        remove = remove.where(latest.c.commitment_id.in_(ids))
    session.execute(remove)
    rows = _history_latest(ids)
    session.execute(
        insert(latest).from_select(
            [
                "commitment_id", "update_id", "reported_at", "status", "progress_percent",
                "assessment_id", "assessed_at", "verdict",
            ],
            rows,
        )
    )  # fmt: skip
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


def _history_latest(ids: list[int] | None) -> Select[*LatestRow]:
    c, su, a = table_of(Commitment), table_of(StatusUpdate), table_of(Assessment)
    newest_update = (
        sa_select(su.c.id)
        .where(su.c.commitment_id == c.c.id)
        .order_by(su.c.reported_at.desc(), su.c.id.desc())
        .limit(1)
        .correlate(c)
        .scalar_subquery()
    )
    newest_assessment = (
        sa_select(a.c.id)
        .where(a.c.commitment_id == c.c.id)
        .order_by(a.c.assessed_at.desc(), a.c.id.desc())
        .limit(1)
        .correlate(c)
        .scalar_subquery()
    )
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
