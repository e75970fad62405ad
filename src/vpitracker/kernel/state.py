"""Derived commitment state (docs/concepts.md), computed by the database.

Now, the newest status update and assessment of each commitment are read from
``commitment_latest`` (one row per commitment). As of a past day they are the
update and assessment spans current then (``commitment_update_span``,
``commitment_assessment_span``: one each per commitment at any instant). Either
way the rows are outer-joined onto the commitment table itself (no second scan of
it) and the derived figures are filtered and counted in SQL. The progress figures
read the same state from ``commitment_figures`` (``figures_state``), one narrow row
per non-archived commitment, instead of the commitment table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    FromClause,
    Subquery,
    Table,
    and_,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
)

from vpitracker.kernel.clock import Clock
from vpitracker.models import (
    Commitment,
    CommitmentAssessmentSpan,
    CommitmentFigures,
    CommitmentLatest,
    CommitmentUpdateSpan,
    table_of,
)
from vpitracker.vocab import CLOSED_STATUSES, DerivedVerdict, ReportedStatus, Verdict

STATE_FIELDS = (
    "reported_status",
    "progress_percent",
    "last_reported_at",
    "verdict",
    "contested",
    "overdue",
    "stale",
)

# The values of STATE_FIELDS, in that order (tests pin them to the columns' types).
StateValues = tuple[str, int, datetime | None, str, bool, bool, bool]


@dataclass(frozen=True)
class _Newest:
    """The commitment table joined to its newest update's and assessment's fields."""

    joined: FromClause
    update_id: ColumnElement[int] | ColumnElement[datetime]  # NULL: no update posted
    status: ColumnElement[str]
    progress_percent: ColumnElement[int]
    reported_at: ColumnElement[datetime]
    verdict: ColumnElement[str]
    assessed_at: ColumnElement[datetime]


@dataclass(frozen=True)
class ClockValues:
    """What derived state compares with: a clock's values, or bound parameters for them.

    Bound (``ClockValues.bound``), a statement is built once and run at any clock
    with ``clock_params(clock)``: a list page is not rebuilt per request.
    """

    ref_date: date | BindParameter[date]
    stale_before: datetime | BindParameter[datetime]
    stale_on: date | BindParameter[date]  # the date of stale_before
    cutoff: datetime | BindParameter[datetime] | None  # None: now
    as_of: date | BindParameter[date] | None = None  # the day of ``cutoff`` (None: now)

    @classmethod
    def of(cls, clock: Clock) -> ClockValues:
        stale_before = clock.stale_before
        return cls(clock.ref_date, stale_before, stale_before.date(), clock.cutoff, clock.as_of)

    @classmethod
    def bound(cls, *, as_of: bool) -> ClockValues:
        """Bound parameters (their types come from the columns they are compared with)."""
        return cls(
            bindparam("vpi_ref_date"),
            bindparam("vpi_stale_before"),
            bindparam("vpi_stale_on"),
            bindparam("vpi_cutoff") if as_of else None,
            bindparam("vpi_as_of") if as_of else None,
        )


def clock_params(clock: Clock) -> dict[str, Any]:
    """The values of ``ClockValues.bound`` at ``clock``."""
    values = ClockValues.of(clock)
    params: dict[str, Any] = {
        "vpi_ref_date": values.ref_date,
        "vpi_stale_before": values.stale_before,
        "vpi_stale_on": values.stale_on,
    }
    if values.cutoff is not None:
        params["vpi_cutoff"] = values.cutoff
        params["vpi_as_of"] = values.as_of
    return params


def _newest(clock: ClockValues, commitment: Table) -> _Newest:
    """Now: the ``commitment_latest`` row the reporting service keeps current.

    As of a past day: the update and assessment spans current at the cutoff (begun
    before it, not ended by then).
    """
    if clock.cutoff is None:
        latest = table_of(CommitmentLatest)
        return _Newest(
            commitment.outerjoin(latest, latest.c.commitment_id == commitment.c.id),
            latest.c.update_id,
            latest.c.status,
            latest.c.progress_percent,
            latest.c.reported_at,
            latest.c.verdict,
            latest.c.assessed_at,
        )
    return _spans(clock.cutoff, commitment, commitment.c.id)


def _spans(
    cutoff: datetime | BindParameter[datetime], rows: Table, commitment_id: ColumnElement[int]
) -> _Newest:
    """``rows`` joined to the update and assessment spans current at ``cutoff``."""
    su = table_of(CommitmentUpdateSpan).alias("su")
    asm = table_of(CommitmentAssessmentSpan).alias("asm")
    joined = rows.outerjoin(su, _current(su, su.c.reported_at, commitment_id, cutoff)).outerjoin(
        asm, _current(asm, asm.c.assessed_at, commitment_id, cutoff)
    )
    return _Newest(
        joined,
        su.c.update_id,
        su.c.status,
        su.c.progress_percent,
        su.c.reported_at,
        asm.c.verdict,
        asm.c.assessed_at,
    )


@dataclass(frozen=True)
class StateColumns:
    """``joined`` (the commitment table and what its state is read from) and, by name,
    the expression of every derived field of §4 over it (``STATE_FIELDS``)."""

    joined: FromClause
    fields: dict[str, ColumnElement[Any]]

    def labelled(self) -> list[ColumnElement[Any]]:
        return [self.fields[name].label(name) for name in STATE_FIELDS]


def state_columns(clock: Clock | ClockValues, commitment: Table | None = None) -> StateColumns:
    """The derived state of the rows of ``commitment`` (the commitment table) at ``clock``
    (a clock, or ``ClockValues.bound``)."""
    commitment = table_of(Commitment) if commitment is None else commitment
    values = clock if isinstance(clock, ClockValues) else ClockValues.of(clock)
    return _derived(values, _newest(values, commitment), commitment)


def figures_state(clock: Clock | ClockValues) -> StateColumns:
    """The derived state of the ``commitment_figures`` rows (the non-archived commitments)
    at ``clock`` (a clock, or ``ClockValues.bound``).

    Now, the newest update's and assessment's fields are the row's own; as of a past
    day, the spans current then. Overdue and stale are derived from the row's dates.
    """
    figures = table_of(CommitmentFigures)
    values = clock if isinstance(clock, ClockValues) else ClockValues.of(clock)
    if values.cutoff is None:
        newest = _Newest(
            figures,
            figures.c.reported_at,  # NULL exactly when no update was posted
            figures.c.status,
            figures.c.progress_percent,
            figures.c.reported_at,
            figures.c.verdict,
            figures.c.assessed_at,
        )
    else:
        newest = _spans(values.cutoff, figures, figures.c.commitment_id)
    return _derived(values, newest, figures)


def figures_status(clock: Clock | ClockValues) -> tuple[FromClause, ColumnElement[str]]:
    """The ``commitment_figures`` rows and their ``reported_status`` alone at ``clock``
    (a clock, or ``ClockValues.bound``; as of a past day, only the update spans are
    joined: no assessment is read)."""
    figures = table_of(CommitmentFigures)
    if clock.cutoff is None:
        joined: FromClause = figures
        status = figures.c.status
    else:
        su = table_of(CommitmentUpdateSpan).alias("su")
        joined = figures.outerjoin(
            su, _current(su, su.c.reported_at, figures.c.commitment_id, clock.cutoff)
        )
        status = su.c.status
    return joined, func.coalesce(status, literal(ReportedStatus.not_started.value))


def _current(
    spans: FromClause,
    start: ColumnElement[datetime],
    commitment_id: ColumnElement[int],
    cutoff: datetime | BindParameter[datetime],
) -> ColumnElement[bool]:
    """The span of ``spans`` current at ``cutoff`` (begun before it, not ended by then)."""
    return and_(
        spans.c.commitment_id == commitment_id,
        start < cutoff,
        or_(spans.c.until.is_(None), spans.c.until >= cutoff),
    )


def _derived(clock: ClockValues, n: _Newest, commitment: Table) -> StateColumns:
    """§4's fields from the newest records ``n`` and the dates of ``commitment``'s rows."""
    status: ColumnElement[str] = func.coalesce(n.status, literal(ReportedStatus.not_started.value))
    open_ = status.not_in([s.value for s in CLOSED_STATUSES])
    contested = and_(
        n.verdict == Verdict.disputes.value,
        or_(n.update_id.is_(None), n.reported_at <= n.assessed_at),
    )
    overdue = and_(commitment.c.due_date < clock.ref_date, open_)
    stale = and_(
        open_,
        or_(
            and_(n.update_id.is_(None), commitment.c.committed_on < clock.stale_on),
            n.reported_at < clock.stale_before,
        ),
    )
    return StateColumns(
        n.joined,
        {
            "reported_status": status,
            "progress_percent": func.coalesce(n.progress_percent, 0),
            "last_reported_at": n.reported_at,
            "verdict": func.coalesce(n.verdict, literal(DerivedVerdict.unassessed.value)),
            "contested": case((contested, True), else_=False),
            "overdue": case((overdue, True), else_=False),
            "stale": case((stale, True), else_=False),
        },
    )


def state_subquery(clock: Clock) -> Subquery:
    """One row per commitment: its id (``commitment_id``) and every derived field of §4."""
    commitment = table_of(Commitment)
    state = state_columns(clock, commitment)
    return (
        select(commitment.c.id.label("commitment_id"), *state.labelled())
        .select_from(state.joined)
        .subquery("state")
    )
