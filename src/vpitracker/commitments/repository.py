"""Commitment queries, derived state included."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CompoundSelect,
    Integer,
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
from vpitracker.kernel.state import ClockValues, StateValues, clock_params, state_columns
from vpitracker.models import (
    Commitment,
    CommitmentRecommendation,
    CommitmentSupport,
    Provision,
    RecommendationProvision,
    table_of,
)
from vpitracker.pagination import PageRequest, Ts, keyset, keyset_params, page_rows, row_dicts
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

# The values of the commitment's columns, in the table's order (tests pin it to the table).
CommitmentValues = tuple[
    datetime, datetime, int, datetime | None, int, str, str, str, int, date, date, str
]


def get(session: Session, commitment_id: int, *, for_update: bool = False) -> Commitment | None:
    return by_key(session, Commitment, commitment_id, for_update=for_update)


def by_code(session: Session, code: str) -> Commitment | None:
    return session.exec(select(Commitment).where(Commitment.code == code)).first()


def _provision_filter(
    cluster: int | BindParameter[int] | None, instrument: str | BindParameter[str] | None
) -> ColumnElement[bool]:
    """Commitments with a recommendation tied to a provision of this cluster/instrument
    (each a value, a bound parameter, or None for any)."""
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
        stmt = stmt.where(col(Provision.cluster) == cluster)
    if instrument is not None:
        stmt = stmt.where(col(Provision.instrument) == instrument)
    return col(Commitment.id).in_(stmt)


# Every filter but include_archived: set (not None) or not.
_FILTERS = tuple(f.name for f in fields(CommitmentFilters) if f.name != "include_archived")
_STATE_FILTERS = frozenset({"reported_status", "verdict", "contested", "overdue", "stale"})


def _present(filters: CommitmentFilters) -> frozenset[str]:
    """The filters set (an empty ``q`` is none)."""
    return frozenset(
        name
        for name in _FILTERS
        if (filters.q if name == "q" else getattr(filters, name) is not None)
    )


def select_with_state(
    clock: Clock, filters: CommitmentFilters
) -> Select[*CommitmentValues, *StateValues]:
    """Commitments and their derived state, filtered (in SQL) by everything in ``filters``.

    The statement's columns are the commitment's (``CommitmentValues``) then
    ``STATE_FIELDS`` (``StateValues``; read them through ``list_commitments``/
    ``get_with_state``); progress and reports count over it.
    """
    return _with_state(*_where_filters(clock, filters))


def select_commitments(clock: Clock, filters: CommitmentFilters) -> Select[*CommitmentValues]:
    """``select_with_state`` without the derived columns (cheaper): the commitment's columns
    alone, the derived state joined only where a filter compares with it."""
    return _commitments(*_where_filters(clock, filters))


@dataclass(frozen=True)
class FilterShape:
    """What a statement built once per shape is built for: which filters are set, with
    the archived or not, now or as of a day (every value a bound parameter)."""

    present: frozenset[str]
    include_archived: bool
    as_of: bool


def filter_shape(
    clock: Clock, filters: CommitmentFilters
) -> tuple[FilterShape, dict[str, Any]] | None:
    """``filters`` at ``clock`` as a shape and the values of its bound parameters (the
    clock's too); None when ``q`` is set (its escaped pattern is built per request)."""
    if filters.q:
        return None
    present = _present(filters)
    params = clock_params(clock) | {f"vpi_{name}": getattr(filters, name) for name in present}
    return FilterShape(present, filters.include_archived, clock.as_of is not None), params


def _bound(shape: FilterShape) -> tuple[ClockValues, frozenset[str], bool, Callable[[str], Any]]:
    """What ``_filtered`` compares with for ``shape``: bound parameters (``filter_shape``
    gives their values)."""
    return ClockValues.bound(as_of=shape.as_of), shape.present, shape.include_archived, _bound_value


def _bound_value(name: str) -> BindParameter[Any]:
    return bindparam(f"vpi_{name}")


def bound_with_state(shape: FilterShape) -> Select[*CommitmentValues, *StateValues]:
    """``select_with_state`` for ``shape``, every value bound: run it with the values
    ``filter_shape`` gave."""
    return _with_state(*_bound(shape))


def bound_commitments(shape: FilterShape) -> Select[*CommitmentValues]:
    """``select_commitments`` for ``shape``, every value bound (see ``bound_with_state``)."""
    return _commitments(*_bound(shape))


def _commitments(
    values: ClockValues,
    present: frozenset[str],
    include_archived: bool,
    value: Callable[[str], Any],
) -> Select[*CommitmentValues]:
    stmt: Select[*CommitmentValues] = cast("Select[*CommitmentValues]", sa_select(*_COMMITMENT.c))
    state: dict[str, ColumnElement[Any]] = {}
    if present & _STATE_FILTERS:
        columns = state_columns(values, _COMMITMENT)
        stmt, state = stmt.select_from(columns.joined), columns.fields
    return _filtered(stmt, state, values.as_of, present, include_archived, value)


def _where_filters(
    clock: Clock, filters: CommitmentFilters
) -> tuple[ClockValues, frozenset[str], bool, Callable[[str], Any]]:
    """What ``_filtered`` compares with for ``filters`` at ``clock``: their own values."""
    return (
        ClockValues.of(clock),
        _present(filters),
        filters.include_archived,
        lambda name: getattr(filters, name),
    )


def _with_state(
    clock: ClockValues,
    present: frozenset[str],
    include_archived: bool,
    value: Callable[[str], Any],
) -> Select[*CommitmentValues, *StateValues]:
    """``select_with_state`` for the filters in ``present``, each compared with ``value(name)``
    (the filter's value, or a bound parameter); the clock's day (``as_of``) likewise."""
    columns = state_columns(clock, _COMMITMENT)
    # SQLAlchemy leaves a table's columns untyped; CommitmentValues names them.
    stmt = cast(
        "Select[*CommitmentValues, *StateValues]",
        sa_select(*_COMMITMENT.c, *columns.labelled()).select_from(columns.joined),
    )
    return _filtered(stmt, columns.fields, clock.as_of, present, include_archived, value)


def _filtered(
    stmt: Select[*Ts],
    state: Mapping[str, ColumnElement[Any]],
    as_of: date | BindParameter[date] | None,
    present: frozenset[str],
    include_archived: bool,
    value: Callable[[str], Any],
) -> Select[*Ts]:
    """``stmt`` (over the commitment table) kept to the rows the filters in ``present`` match,
    each compared with ``value(name)``; ``state`` holds the derived columns they may compare."""
    if not include_archived:
        stmt = stmt.where(col(Commitment.archived_at).is_(None))
    if as_of is not None:
        stmt = stmt.where(col(Commitment.committed_on) <= as_of)
    if "q" in present:
        stmt = stmt.where(matches(value("q"), col(Commitment.title), col(Commitment.code)))
    if "ministry_id" in present:
        ministry_id = value("ministry_id")
        supporting = exists().where(
            col(CommitmentSupport.commitment_id) == col(Commitment.id),
            col(CommitmentSupport.ministry_id) == ministry_id,
        )
        stmt = stmt.where(or_(col(Commitment.lead_ministry_id) == ministry_id, supporting))
    if "lead_ministry_id" in present:
        stmt = stmt.where(col(Commitment.lead_ministry_id) == value("lead_ministry_id"))
    if "recommendation_id" in present:
        stmt = stmt.where(
            exists().where(
                col(CommitmentRecommendation.commitment_id) == col(Commitment.id),
                col(CommitmentRecommendation.recommendation_id) == value("recommendation_id"),
            )
        )
    for name in ("reported_status", "verdict", "contested", "overdue", "stale"):
        if name in present:
            stmt = stmt.where(state[name] == value(name))
    if "due_before" in present:
        stmt = stmt.where(col(Commitment.due_date) < value("due_before"))
    if "due_after" in present:
        stmt = stmt.where(col(Commitment.due_date) > value("due_after"))
    if "cluster" in present or "instrument" in present:
        stmt = stmt.where(
            _provision_filter(
                value("cluster") if "cluster" in present else None,
                value("instrument") if "instrument" in present else None,
            )
        )
    return stmt


@lru_cache(maxsize=256)
def _page(shape: FilterShape, sort: str, after: bool) -> Select[*CommitmentValues, *StateValues]:
    """A list page's statement, built once per shape: every value a bound parameter."""
    stmt = bound_with_state(shape)
    return keyset(stmt, sort=sort, after=after, sort_columns=SORTS, id_column=col(Commitment.id))


def list_commitments(
    session: Session, *, clock: Clock, filters: CommitmentFilters, page: PageRequest
) -> tuple[list[dict[str, Any]], str | None]:
    """One page: each row (a dict) the commitment's columns and ``STATE_FIELDS`` (and the
    cursor's).

    Its statement is built once per shape of filters, sort and cursor (``_page``) and
    run with the request's values; ``q`` (an escaped pattern) is built per request.
    """
    params = keyset_params(page, sort_columns=SORTS, id_column=col(Commitment.id))
    after = page.after
    shaped = filter_shape(clock, filters)
    if shaped is None:
        stmt = keyset(
            select_with_state(clock, filters),
            sort=page.sort, after=after, sort_columns=SORTS, id_column=col(Commitment.id),
        )  # fmt: skip
    else:
        shape, values = shaped
        stmt = _page(shape, page.sort, after)
        params |= values
    rows, next_cursor = page_rows(session, stmt, params, page=page)
    return row_dicts(rows), next_cursor


def get_with_state(session: Session, commitment_id: int, clock: Clock) -> dict[str, Any] | None:
    """The commitment's columns and ``STATE_FIELDS``, or None."""
    state = state_columns(clock, _COMMITMENT)
    stmt = (
        sa_select(*_COMMITMENT.c, *state.labelled())
        .select_from(state.joined)
        .where(_COMMITMENT.c.id == commitment_id)
    )
    row = session.execute(stmt).first()
    return None if row is None else dict(row._mapping)


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
    for link, commitment_id, target_id in session.execute(stmt, {"ids": ids}).all():
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
