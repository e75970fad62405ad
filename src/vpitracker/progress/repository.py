"""Aggregate queries: every figure is counted by the database in one statement.

``counted`` is any FROM whose rows are commitments with their derived state
(``STATE_FIELDS``) and ``lead_ministry_id``: the figures read it from
``commitment_figures`` (``counted()``); the timeline's queries are in
``timeline_repository``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Date,
    Float,
    FromClause,
    Integer,
    Select,
    Subquery,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal_column,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from vpitracker.kernel import figures
from vpitracker.kernel.clock import Clock
from vpitracker.kernel.state import ClockValues, clock_params, figures_state
from vpitracker.models import (
    CommitmentFigures,
    CommitmentRecommendation,
    CommitmentSupport,
    Ministry,
    Provision,
    RecommendationProvision,
    StatusUpdate,
    table_of,
)
from vpitracker.vocab import (
    DerivedVerdict,
    Implementation,
    Instrument,
    ReportedStatus,
)

# The status words, once (an enum member's ``.value`` is slow, read per ministry row).
STATUSES = tuple(s.value for s in ReportedStatus)

# The derived fields the figures read of each counted commitment.
COUNTED_STATE = (
    "reported_status",
    "progress_percent",
    "verdict",
    "contested",
    "overdue",
    "stale",
)


def counted(
    clock: Clock,
    ministry_id: int | None,
    cluster: int | None,
    instrument: Instrument | None,
) -> Subquery:
    """The counted commitments (non-archived, made by the ``as_of`` day, under the
    filters), one ``commitment_figures`` row each, with their derived state.

    Columns: ``id``, ``lead_ministry_id``, ``committed_on``, ``due_date``, the masks
    (``cluster_mask``, ``instrument_mask``) and ``COUNTED_STATE``; ``_counted`` without
    the state has the others alone.
    """
    return _counted(ClockValues.of(clock), _Filters.of(ministry_id, cluster, instrument), True)


@dataclass(frozen=True)
class Shape:
    """Which filters of ``counted`` are set, and whether it is as of a past day: what a
    statement built once (``counted_bound``) is built for."""

    ministry: bool = False
    cluster: bool = False
    instrument: bool = False
    as_of: bool = False

    @classmethod
    def of(
        cls,
        clock: Clock,
        ministry_id: int | None,
        cluster: int | None,
        instrument: Instrument | None,
    ) -> Shape:
        return cls(
            ministry_id is not None,
            cluster is not None,
            instrument is not None,
            clock.as_of is not None,
        )


def counted_bound(shape: Shape) -> Subquery:
    """``counted`` of ``shape``, every value bound (the clock's, its day included, as
    ``ClockValues.bound``, the filters' as ``_Filters.bound``): built once, run at any
    clock and filter values with ``counted_params``."""
    return _counted(ClockValues.bound(as_of=shape.as_of), _Filters.bound(shape), True)


def counted_params(
    clock: Clock,
    ministry_id: int | None = None,
    cluster: int | None = None,
    instrument: Instrument | None = None,
) -> dict[str, Any]:
    """The values of ``counted_bound`` at ``clock`` under the filters."""
    return {**clock_params(clock), **_Filters.of(ministry_id, cluster, instrument).params()}


@dataclass(frozen=True)
class _Filters:
    """The filters' values (None: not filtered), or bound parameters for them named
    ``vpi_<field>``; a bucket's bit (``kernel.figures``) beside the bucket."""

    ministry_id: int | BindParameter[int] | None = None
    cluster: int | BindParameter[int] | None = None
    cluster_bit: int | BindParameter[int] | None = None
    instrument: str | BindParameter[str] | None = None
    instrument_bit: int | BindParameter[int] | None = None

    @classmethod
    def of(
        cls, ministry_id: int | None, cluster: int | None, instrument: Instrument | None
    ) -> _Filters:
        value = instrument.value if instrument is not None else None
        return cls(
            ministry_id,
            cluster,
            figures.bits("cluster")[cluster] if cluster is not None else None,
            value,
            figures.bits("instrument")[value] if value is not None else None,
        )

    @classmethod
    def bound(cls, shape: Shape) -> _Filters:
        def bound(name: str, is_set: bool) -> Any:
            return bindparam(f"vpi_{name}") if is_set else None

        return cls(
            bound("ministry_id", shape.ministry),
            bound("cluster", shape.cluster),
            bound("cluster_bit", shape.cluster),
            bound("instrument", shape.instrument),
            bound("instrument_bit", shape.instrument),
        )

    def params(self) -> dict[str, Any]:
        """The values by the names ``bound`` gives them (the filters set)."""
        return {f"vpi_{k}": v for k, v in vars(self).items() if v is not None}


def _counted(clock: ClockValues, filters: _Filters, with_state: bool) -> Subquery:
    f = table_of(CommitmentFigures)
    columns: list[ColumnElement[Any]] = [
        f.c.commitment_id.label("id"),
        f.c.lead_ministry_id,
        f.c.committed_on,
        f.c.due_date,
        f.c.cluster_mask,
        f.c.instrument_mask,
    ]
    stmt: Select[Any]
    if with_state:
        state = figures_state(clock)
        stmt = select(*columns, *(state.fields[n].label(n) for n in COUNTED_STATE)).select_from(
            state.joined
        )
    else:
        stmt = select(*columns)
    if clock.as_of is not None:
        stmt = stmt.where(f.c.committed_on <= clock.as_of)
    ministry_id, cluster, instrument = filters.ministry_id, filters.cluster, filters.instrument
    if ministry_id is not None:
        # Uncorrelated: one hashed set of the ministry's supported commitments, costed as
        # such. A correlated EXISTS under the OR was costed as a probe per row (about 4x
        # the whole scan at L), which crossed PostgreSQL's JIT threshold: compiling took
        # longer than the query (EXPLAIN at L: summary's first statement 65 -> 16 ms).
        support = table_of(CommitmentSupport)
        supported = select(support.c.commitment_id).where(support.c.ministry_id == ministry_id)
        stmt = stmt.where(
            or_(f.c.lead_ministry_id == ministry_id, f.c.commitment_id.in_(supported))
        )
    if cluster is not None and instrument is not None:
        # One provision of both: the masks cannot tell, the links can.
        links, rp, p = (
            table_of(CommitmentRecommendation),
            table_of(RecommendationProvision),
            table_of(Provision),
        )
        stmt = stmt.where(
            exists()
            .where(links.c.commitment_id == f.c.commitment_id)
            .where(rp.c.recommendation_id == links.c.recommendation_id)
            .where(p.c.key == rp.c.provision_key)
            .where(p.c.cluster == cluster, p.c.instrument == instrument)
        )
    elif filters.cluster_bit is not None:
        stmt = stmt.where(f.c.cluster_mask.op("&")(filters.cluster_bit) != 0)
    elif filters.instrument_bit is not None:
        stmt = stmt.where(f.c.instrument_mask.op("&")(filters.instrument_bit) != 0)
    return stmt.subquery("counted")


@dataclass(frozen=True)
class SharedState:
    """The state of every counted commitment as of a past day, read once: a
    materialized CTE over the update and assessment spans current then (``counted``),
    and the same rows' ``commitment_id`` and ``status`` (``statuses``) for the
    recommendations' implementation, so one statement scans the spans once."""

    counted: FromClause
    statuses: Subquery


def shared_state_bound() -> SharedState:
    """``counted_bound`` without filters as of a past day, shared (``SharedState``)."""
    counted = counted_bound(Shape(as_of=True)).element
    assert isinstance(counted, Select)
    # Only the columns the two aggregates read: PostgreSQL keeps every column of a
    # materialized CTE, and the narrower rows spill less of it to disk.
    read = [c for c in counted.selected_columns if c.key in ("id", *COUNTED_STATE)]
    state = counted.with_only_columns(*read).cte("state").prefix_with("MATERIALIZED")
    statuses = select(state.c.id.label("commitment_id"), state.c.reported_status.label("status"))
    return SharedState(state, statuses.subquery("statuses"))


@dataclass(frozen=True)
class FigureRow:
    """Status counts, flags and the exact mean progress over a set of commitments."""

    not_started: int
    in_progress: int
    completed: int
    stalled: int
    cancelled: int
    overdue: int
    stale: int
    contested: int
    # avg() as the database answers it (Decimal, or float on SQLite); None over nothing.
    mean_progress_percent: Decimal | float | None


def _figure_row(m: RowMapping) -> FigureRow:
    return FigureRow(
        **{status: int(m[status]) for status in STATUSES},
        overdue=int(m["overdue"]),
        stale=int(m["stale"]),
        contested=int(m["contested"]),
        mean_progress_percent=m["mean_progress_percent"],
    )


@dataclass(frozen=True)
class CommitmentTotals:
    figures: FigureRow
    commitments: int
    verdicts: dict[str, int]


@dataclass(frozen=True)
class RecommendationTotals:
    recommendations: int
    implementations: dict[str, int]


@dataclass(frozen=True)
class BucketFigures:
    """A cluster (int) or instrument (str); None: the commitments with none."""

    figures: FigureRow
    bucket: int | str | None
    commitments: int


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def figure_columns(counted: FromClause) -> list[ColumnElement[Any]]:
    """Status counts, flags and mean progress over the rows of ``counted``."""
    return [
        *_count_columns(counted),
        func.avg(counted.c.progress_percent).label("mean_progress_percent"),
    ]


def _count_columns(counted: FromClause) -> list[ColumnElement[Any]]:
    """Status counts and flags over the rows of ``counted``."""
    c = counted.c
    return [
        *(_count_if(c.reported_status == s.value).label(s.value) for s in ReportedStatus),
        _count_if(c.overdue == True).label("overdue"),  # noqa: E712 - SQL boolean
        _count_if(c.stale == True).label("stale"),  # noqa: E712
        _count_if(c.contested == True).label("contested"),  # noqa: E712
    ]


def _mean_one_decimal(total: ColumnElement[int], count: ColumnElement[int]) -> ColumnElement[Any]:
    """``total / count`` (non-negative) rounded half up to one decimal, as a float; NULL
    when ``count`` is 0: what the service's rounding makes of ``avg()``. Integers alone
    (``floor(10 * mean + 1/2)`` tenths), so both databases answer the same: the float
    nearest the tenths, as the service's ``float(Decimal)`` is."""
    total, count = type_coerce(total, Integer()), type_coerce(count, Integer())
    tenths = (total * 20 + count) // type_coerce(func.nullif(count * 2, 0), Integer())
    return cast(tenths, Float()).op("/", return_type=Float())(literal_column("10.0"))


def _days_since(
    dialect: str, day: date | BindParameter[date], instant: ColumnElement[datetime]
) -> ColumnElement[Any]:
    """Whole days from ``instant``'s UTC calendar day to ``day``; NULL for NULL."""
    as_date = type_coerce(day, Date())
    if dialect == "postgresql":
        return type_coerce(as_date - func.date(func.timezone("UTC", instant)), Integer())
    # SQLite keeps UTC timestamps as naive text; julianday() of two midnights differs
    # by a whole number.
    return cast(func.julianday(as_date) - func.julianday(func.date(instant)), Integer)


def summary_statements(
    counted: FromClause, recommendations: FromClause, *, together: bool = False
) -> tuple[Select[Any], ...]:
    """``summary``'s statements: two, or with ``together`` one of the two aggregates side
    by side, for a ``counted`` and ``recommendations`` that read one materialized state
    (``shared_state_bound``), which is then read once."""
    c = counted.c
    commitments = select(
        func.count().label("commitments"),
        *figure_columns(counted),
        *(_count_if(c.verdict == v.value).label(f"verdict_{v.value}") for v in DerivedVerdict),
    ).select_from(counted)
    recs = _recommendation_sums(recommendations)
    if not together:
        return commitments, recs
    first, second = commitments.subquery("commitment_totals"), recs.subquery("recs_totals")
    return (select(first, second).select_from(first.join(second, true())),)


def summary(
    session: Session, statements: tuple[Select[Any], ...], params: dict[str, Any] | None = None
) -> tuple[CommitmentTotals, RecommendationTotals]:
    """(commitment figures, recommendation figures) by ``summary_statements``, run with
    ``params`` (the values of a statement built bound)."""
    rows = [session.execute(stmt, params).one()._mapping for stmt in statements]
    row, recs_row = rows[0], rows[-1]
    return (
        CommitmentTotals(
            figures=_figure_row(row),
            commitments=int(row["commitments"]),
            verdicts={v.value: int(row[f"verdict_{v.value}"]) for v in DerivedVerdict},
        ),
        _recommendation_totals(recs_row),
    )


def _recommendation_sums(recommendations: FromClause) -> Select[Any]:
    r = recommendations.c
    columns: list[ColumnElement[Any]] = [
        func.count().label("recommendations"),
        *(
            _count_if(r.implementation == i.value).label(f"implementation_{i.value}")
            for i in Implementation
        ),
    ]
    return select(*columns).select_from(recommendations)


def _recommendation_totals(row: RowMapping) -> RecommendationTotals:
    return RecommendationTotals(
        recommendations=int(row["recommendations"]),
        implementations={i.value: int(row[f"implementation_{i.value}"]) for i in Implementation},
    )


def recommendation_totals(session: Session, recommendations: FromClause) -> RecommendationTotals:
    """The recommendations' count and their implementation counts (one statement)."""
    return _recommendation_totals(
        session.execute(_recommendation_sums(recommendations)).one()._mapping
    )


# A ministry's row (``ministries``), ``MinistryRow``'s fields in its order: id, code,
# name, commitments led and supported, the five status counts, overdue, stale, contested,
# the mean progress (rounded) and the days since its last update (None: none by then).
MinistryValues = tuple[
    int, str, str, int, int, int, int, int, int, int, int, int, int, float | None, int | None
]


def ministries(
    session: Session,
    clock: Clock,
    *,
    ministry_id: int | None = None,
    cluster: int | None = None,
    instrument: Instrument | None = None,
) -> Sequence[MinistryValues]:
    """One row (``MinistryValues``) per non-archived ministry, only ``ministry_id``'s when
    given, ordered by code, over the commitments counted at ``clock`` under ``cluster``
    and ``instrument``: one statement built once per shape (``_ministries_bound``), run
    with the clock's and the filters' values."""
    shape = Shape.of(clock, ministry_id, cluster, instrument)
    stmt = _ministries_bound(shape, session.get_bind().dialect.name)
    params = counted_params(clock, ministry_id, cluster, instrument)
    return session.execute(stmt, params).all()


# Shapes: one ministry or all, the counted filters set (4), now or as of a past day, by
# the dialect (the days since the last update are counted in its SQL).
@lru_cache(maxsize=32)
def _ministries_bound(shape: Shape, dialect: str) -> Select[Any]:
    """``shape.ministry``: one ministry's row (``vpi_ministry_id``), which is not a filter
    of the commitments counted (those it supports are counted under their leads)."""
    clock, filters = ClockValues.bound(as_of=shape.as_of), _Filters.bound(shape)
    counted_filters = replace(filters, ministry_id=None)
    return _ministries(
        _counted(clock, counted_filters, True),
        _counted(clock, counted_filters, False),
        clock,
        dialect,
        ministry_id=filters.ministry_id,
    )


def _ministries(
    counted: FromClause,
    involved: FromClause,
    clock: ClockValues,
    dialect: str,
    *,
    ministry_id: int | BindParameter[int] | None,
) -> Select[Any]:
    """``involved``: the same commitments as ``counted`` without their derived state
    (cheaper), to count the supporting ministries over. The mean and the days since the
    last update are computed here, as the response has them, so a row is the
    response's row as it comes."""
    c = counted.c
    led = (
        select(
            c.lead_ministry_id.label("ministry_id"),
            func.count().label("led"),
            *_count_columns(counted),
            func.sum(c.progress_percent).label("progress"),
            func.count(c.progress_percent).label("with_progress"),
        )
        .group_by(c.lead_ministry_id)
        .subquery("led")
    )
    support = table_of(CommitmentSupport)
    supporting = (
        select(support.c.ministry_id, func.count().label("supporting"))
        .join(involved, involved.c.id == support.c.commitment_id)
        .group_by(support.c.ministry_id)
        .subquery("supporting")
    )
    updates = table_of(StatusUpdate)
    m = table_of(Ministry)
    # One probe per ministry on (ministry_id, reported_at), not a scan of every update.
    last_at = select(func.max(updates.c.reported_at)).where(updates.c.ministry_id == m.c.id)
    if clock.cutoff is not None:
        last_at = last_at.where(updates.c.reported_at < clock.cutoff)
    stmt = (
        select(
            m.c.id,
            m.c.code,
            m.c.name,
            func.coalesce(led.c.led, 0).label("led"),
            func.coalesce(supporting.c.supporting, 0).label("supporting"),
            *(func.coalesce(led.c[s], 0).label(s) for s in STATUSES),
            func.coalesce(led.c.overdue, 0).label("overdue"),
            func.coalesce(led.c.stale, 0).label("stale"),
            func.coalesce(led.c.contested, 0).label("contested"),
            _mean_one_decimal(led.c.progress, led.c.with_progress),
            _days_since(dialect, clock.ref_date, last_at.correlate(m).scalar_subquery()),
        )
        .outerjoin(led, led.c.ministry_id == m.c.id)
        .outerjoin(supporting, supporting.c.ministry_id == m.c.id)
        .where(m.c.archived_at.is_(None))
        .order_by(m.c.code)
    )
    if ministry_id is not None:
        stmt = stmt.where(m.c.id == ministry_id)
    return stmt
