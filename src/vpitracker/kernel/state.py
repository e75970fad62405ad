"""Derived commitment state (docs/concepts.md), computed by the database.

Now, the newest status update and assessment of each commitment are read from
``commitment_latest`` (one row per commitment). As of a past day they are found
with correlated ``LIMIT 1`` subqueries over the ``(commitment_id, <time>, id)``
indexes. Either way the derived figures are filtered and counted in SQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Subquery, and_, case, func, literal, or_, select

from vpitracker.kernel.clock import Clock
from vpitracker.models import (
    Assessment,
    Commitment,
    CommitmentLatest,
    StatusUpdate,
    table_of,
)
from vpitracker.vocab import CLOSED_STATUSES, DerivedVerdict, ReportedStatus, Verdict


def _newest(table: Any, time_column: str, commitment: Any, cutoff: datetime | None) -> Any:
    """Id of the newest row of ``table`` for the outer commitment (before ``cutoff``)."""
    stmt = select(table.c.id).where(table.c.commitment_id == commitment.c.id)
    if cutoff is not None:
        stmt = stmt.where(table.c[time_column] < cutoff)
    stmt = stmt.order_by(table.c[time_column].desc(), table.c.id.desc()).limit(1)
    return stmt.correlate(commitment).scalar_subquery()


def _latest_rows(clock: Clock) -> Any:
    """Per commitment: its newest update's and assessment's fields at ``clock``.

    Now: the ``commitment_latest`` row the reporting service keeps current.
    As of a past day: found in the history with an index probe per commitment.
    """
    commitment = table_of(Commitment)
    if clock.cutoff is None:
        latest = table_of(CommitmentLatest)
        return (
            select(
                commitment.c.id.label("commitment_id"),
                commitment.c.due_date,
                commitment.c.committed_on,
                latest.c.update_id,
                latest.c.status,
                latest.c.progress_percent,
                latest.c.reported_at,
                latest.c.verdict,
                latest.c.assessed_at,
            )
            .select_from(commitment)
            .outerjoin(latest, latest.c.commitment_id == commitment.c.id)
            .subquery("latest")
        )
    updates = table_of(StatusUpdate)
    assessments = table_of(Assessment)
    base = select(
        commitment.c.id.label("commitment_id"),
        commitment.c.due_date,
        commitment.c.committed_on,
        _newest(updates, "reported_at", commitment, clock.cutoff).label("update_id"),
        _newest(assessments, "assessed_at", commitment, clock.cutoff).label("assessment_id"),
    ).subquery("newest")
    su = updates.alias("su")
    asm = assessments.alias("asm")
    return (
        select(
            base.c.commitment_id,
            base.c.due_date,
            base.c.committed_on,
            su.c.id.label("update_id"),
            su.c.status,
            su.c.progress_percent,
            su.c.reported_at,
            asm.c.verdict,
            asm.c.assessed_at,
        )
        .select_from(base)
        .outerjoin(su, su.c.id == base.c.update_id)
        .outerjoin(asm, asm.c.id == base.c.assessment_id)
        .subquery("latest")
    )


def state_subquery(clock: Clock) -> Subquery:
    """One row per commitment: its id and every derived field of §4."""
    latest = _latest_rows(clock).c
    status: ColumnElement[Any] = func.coalesce(
        latest.status, literal(ReportedStatus.not_started.value)
    )
    open_ = status.not_in([s.value for s in CLOSED_STATUSES])
    contested = and_(
        latest.verdict == Verdict.disputes.value,
        or_(latest.update_id.is_(None), latest.reported_at <= latest.assessed_at),
    )
    overdue = and_(latest.due_date < clock.ref_date, open_)
    stale = and_(
        open_,
        or_(
            and_(latest.update_id.is_(None), latest.committed_on < clock.stale_before.date()),
            latest.reported_at < clock.stale_before,
        ),
    )
    return select(
        latest.commitment_id,
        status.label("reported_status"),
        func.coalesce(latest.progress_percent, 0).label("progress_percent"),
        latest.reported_at.label("last_reported_at"),
        func.coalesce(latest.verdict, literal(DerivedVerdict.unassessed.value)).label("verdict"),
        case((contested, True), else_=False).label("contested"),
        case((overdue, True), else_=False).label("overdue"),
        case((stale, True), else_=False).label("stale"),
    ).subquery("state")


STATE_FIELDS = (
    "reported_status",
    "progress_percent",
    "last_reported_at",
    "verdict",
    "contested",
    "overdue",
    "stale",
)
