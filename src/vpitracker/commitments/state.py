"""Derived commitment state (DESIGN §4), computed by the database.

For each commitment the newest status update and newest assessment are found
with correlated ``LIMIT 1`` subqueries over the ``(commitment_id, <time>, id)``
indexes, so a page of commitments costs an index probe per row, and the
derived figures can be filtered and counted in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Subquery, and_, case, func, literal, or_, select

from vpitracker.models import Assessment, Commitment, StatusUpdate, table_of, utcnow
from vpitracker.vocab import CLOSED_STATUSES, DerivedVerdict, ReportedStatus, Verdict


@dataclass(frozen=True)
class Clock:
    """The moment derived state is computed for: now, or the end of an ``as_of`` day."""

    as_of: date | None
    ref_date: date
    # Updates and assessments strictly before this count; None means all of them.
    cutoff: datetime | None
    ref_now: datetime
    stale_after_days: int

    @classmethod
    def at(cls, as_of: date | None, stale_after_days: int) -> Clock:
        now = utcnow()
        if as_of is None:
            return cls(None, now.date(), None, now, stale_after_days)
        end = datetime.combine(as_of + timedelta(days=1), time(0), tzinfo=UTC)
        return cls(as_of, as_of, end, end, stale_after_days)

    @property
    def stale_before(self) -> datetime:
        return self.ref_now - timedelta(days=self.stale_after_days)


def _newest(table: Any, time_column: str, commitment: Any, cutoff: datetime | None) -> Any:
    """Id of the newest row of ``table`` for the outer commitment (before ``cutoff``)."""
    stmt = select(table.c.id).where(table.c.commitment_id == commitment.c.id)
    if cutoff is not None:
        stmt = stmt.where(table.c[time_column] < cutoff)
    stmt = stmt.order_by(table.c[time_column].desc(), table.c.id.desc()).limit(1)
    return stmt.correlate(commitment).scalar_subquery()


def state_subquery(clock: Clock) -> Subquery:
    """One row per commitment: its id and every derived field of §4."""
    commitment = table_of(Commitment)
    updates = table_of(StatusUpdate)
    assessments = table_of(Assessment)
    base = select(
        commitment.c.id.label("commitment_id"),
        commitment.c.due_date,
        commitment.c.committed_on,
        _newest(updates, "reported_at", commitment, clock.cutoff).label("update_id"),
        _newest(assessments, "assessed_at", commitment, clock.cutoff).label("assessment_id"),
    ).subquery("latest")
    su = updates.alias("su")
    asm = assessments.alias("asm")
    status: ColumnElement[Any] = func.coalesce(
        su.c.status, literal(ReportedStatus.not_started.value)
    )
    open_ = status.not_in([s.value for s in CLOSED_STATUSES])
    contested = and_(
        asm.c.verdict == Verdict.disputes.value,
        or_(su.c.id.is_(None), su.c.reported_at <= asm.c.assessed_at),
    )
    overdue = and_(base.c.due_date < clock.ref_date, open_)
    stale = and_(
        open_,
        or_(
            and_(su.c.id.is_(None), base.c.committed_on < clock.stale_before.date()),
            su.c.reported_at < clock.stale_before,
        ),
    )
    return (
        select(
            base.c.commitment_id,
            status.label("reported_status"),
            func.coalesce(su.c.progress_percent, 0).label("progress_percent"),
            su.c.reported_at.label("last_reported_at"),
            func.coalesce(asm.c.verdict, literal(DerivedVerdict.unassessed.value)).label("verdict"),
            case((contested, True), else_=False).label("contested"),
            case((overdue, True), else_=False).label("overdue"),
            case((stale, True), else_=False).label("stale"),
        )
        .select_from(base)
        .outerjoin(su, su.c.id == base.c.update_id)
        .outerjoin(asm, asm.c.id == base.c.assessment_id)
        .subquery("state")
    )


STATE_FIELDS = (
    "reported_status",
    "progress_percent",
    "last_reported_at",
    "verdict",
    "contested",
    "overdue",
    "stale",
)
