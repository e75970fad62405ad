"""Derived commitment state (docs/concepts.md), computed by the database.

Now, the newest status update and assessment of each commitment are read from
``commitment_latest`` (one row per commitment). As of a past day they are the
update and assessment spans current then (``commitment_update_span``,
``commitment_assessment_span``: one each per commitment at any instant). Either
way the rows are outer-joined onto the commitment table itself (no second scan of
it) and the derived figures are filtered and counted in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Subquery,
    Table,
    and_,
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


@dataclass(frozen=True)
class _Newest:
    """The commitment table joined to its newest update's and assessment's fields."""

    joined: FromClause
    update_id: ColumnElement[Any]
    status: ColumnElement[Any]
    progress_percent: ColumnElement[Any]
    reported_at: ColumnElement[Any]
    verdict: ColumnElement[Any]
    assessed_at: ColumnElement[Any]


def _newest(clock: Clock, commitment: Table) -> _Newest:
    """Now: the ``commitment_latest`` row the reporting service keeps current.

    As of a past day: the update and assessment spans current at the cutoff (begun
    before it, not ended by then).
    """
    cutoff = clock.cutoff
    if cutoff is None:
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
    su = table_of(CommitmentUpdateSpan).alias("su")
    asm = table_of(CommitmentAssessmentSpan).alias("asm")
    joined = commitment.outerjoin(
        su,
        and_(
            su.c.commitment_id == commitment.c.id,
            su.c.reported_at < cutoff,
            or_(su.c.until.is_(None), su.c.until >= cutoff),
        ),
    ).outerjoin(
        asm,
        and_(
            asm.c.commitment_id == commitment.c.id,
            asm.c.assessed_at < cutoff,
            or_(asm.c.until.is_(None), asm.c.until >= cutoff),
        ),
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


def state_columns(clock: Clock, commitment: Table | None = None) -> StateColumns:
    """The derived state of the rows of ``commitment`` (the commitment table) at ``clock``."""
    commitment = table_of(Commitment) if commitment is None else commitment
    n = _newest(clock, commitment)
    status: ColumnElement[Any] = func.coalesce(n.status, literal(ReportedStatus.not_started.value))
    open_ = status.not_in([s.value for s in CLOSED_STATUSES])
    contested = and_(
        n.verdict == Verdict.disputes.value,
        or_(n.update_id.is_(None), n.reported_at <= n.assessed_at),
    )
    overdue = and_(commitment.c.due_date < clock.ref_date, open_)
    stale = and_(
        open_,
        or_(
            and_(n.update_id.is_(None), commitment.c.committed_on < clock.stale_before.date()),
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
