"""Commitment queries, derived state included."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Integer,
    RowMapping,
    Select,
    any_,
    bindparam,
    delete,
    exists,
    func,
    literal_column,
    or_,
    union_all,
)
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Session, col, select

from vpitracker.kernel.clock import Clock
from vpitracker.kernel.filters import CommitmentFilters
from vpitracker.kernel.state import state_columns
from vpitracker.models import (
    Commitment,
    CommitmentRecommendation,
    CommitmentSupport,
    Provision,
    RecommendationProvision,
    table_of,
)
from vpitracker.pagination import PageRequest, paginate_rows
from vpitracker.records import by_key, matches

SORTS = {
    "id": col(Commitment.id),
    "code": col(Commitment.code),
    "due_date": col(Commitment.due_date),
    "committed_on": col(Commitment.committed_on),
    "created_at": col(Commitment.created_at),
}


# The commitment's own columns: a list or a read selects these, not the ORM entity (no
# identity map, no instance per row, for rows that are only serialized).
_COMMITMENT = table_of(Commitment)


def get(session: Session, commitment_id: int, *, for_update: bool = False) -> Commitment | None:
    return by_key(session, Commitment, commitment_id, for_update=for_update)


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
        stmt = sa_select(*_COMMITMENT.c, *columns.labelled()).select_from(columns.joined)
    else:
        stmt = sa_select(*_COMMITMENT.c)
    if not filters.include_archived:
        stmt = stmt.where(col(Commitment.archived_at).is_(None))
    if clock.as_of is not None:
        stmt = stmt.where(col(Commitment.committed_on) <= clock.as_of)
    if filters.q:
        stmt = stmt.where(matches(filters.q, col(Commitment.title), col(Commitment.code)))
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
) -> tuple[list[RowMapping], str | None]:
    """One page: each row the commitment's columns and ``STATE_FIELDS`` (and the cursor's)."""
    stmt = select_with_state(clock, filters)
    rows, next_cursor = paginate_rows(
        session, stmt, page=page, sort_columns=SORTS, id_column=col(Commitment.id)
    )
    return [row._mapping for row in rows], next_cursor


def get_with_state(session: Session, commitment_id: int, clock: Clock) -> RowMapping | None:
    """The commitment's columns and ``STATE_FIELDS``, or None."""
    state = state_columns(clock, _COMMITMENT)
    stmt = (
        sa_select(*_COMMITMENT.c, *state.labelled())
        .select_from(state.joined)
        .where(_COMMITMENT.c.id == commitment_id)
    )
    row = session.execute(stmt).first()
    return None if row is None else row._mapping


def _links_statement(
    ids_match: Callable[[ColumnElement[int]], ColumnElement[bool]],
) -> CompoundSelect[int, int, int]:
    """Both link tables' targets of some commitments, ascending: (link, commitment, target)."""
    recs, support = table_of(CommitmentRecommendation), table_of(CommitmentSupport)
    return union_all(
        sa_select(literal_column("0"), recs.c.commitment_id, recs.c.recommendation_id)
        .where(ids_match(recs.c.commitment_id)),
        sa_select(literal_column("1"), support.c.commitment_id, support.c.ministry_id)
        .where(ids_match(support.c.commitment_id)),
    ).order_by(literal_column("3"))  # fmt: skip


# Built once, with the ids one bound value: PostgreSQL takes them as one array
# (= ANY), SQLite as an IN list expanded when the statement runs.
_LINKS = {
    "postgresql": _links_statement(
        lambda column: column == any_(bindparam("ids", type_=ARRAY(Integer)))
    ),
    "sqlite": _links_statement(lambda column: column.in_(bindparam("ids", expanding=True))),
}


def links(
    session: Session, commitment_ids: Iterable[int]
) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """(recommendation ids, supporting ministry ids) per commitment, each ascending."""
    ids = list(commitment_ids)
    found: tuple[dict[int, list[int]], dict[int, list[int]]] = (
        {i: [] for i in ids},
        {i: [] for i in ids},
    )
    if not ids:
        return found
    stmt = _LINKS[session.get_bind().dialect.name]
    for link, commitment_id, target_id in session.execute(stmt, {"ids": ids}):
        found[link][commitment_id].append(target_id)
    return found


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


def month_of(column: ColumnElement[datetime], dialect: str) -> ColumnElement[str]:
    """The UTC calendar month (``YYYY-MM``) of a timestamp column."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM")
    return func.strftime("%Y-%m", column)
