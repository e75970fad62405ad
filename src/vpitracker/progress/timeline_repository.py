"""Timeline queries: updates posted, and the moves of completed and overdue counts, per month.

They read the maintained rows of ``commitments.timeline_days`` (per commitment and
day, and per day), so a request neither groups every update of the counted
commitments nor derives the moves from their spans.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    Subquery,
    false,
    func,
    not_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from vpitracker.models import Commitment, CommitmentTimelineDay, TimelineDay, table_of

# The moves' columns (``commitments.timeline_days.MOVES``).
MOVES = ("updates", "completed", "closed_due", "due")

# Largest timeline the API will draw (20 years of months).
MAX_PERIODS = 240

# A day or month expression over timestamp or date columns.
Expr = ColumnElement[Any]


@dataclass
class MonthMoves:
    """The timeline's moves in one month (``commitments.timeline_days``)."""

    updates: int = 0
    completed: int = 0
    closed_due: int = 0
    due: int = 0


def _sums(
    session: Session, table: FromClause, last_day: date, sign: int, *where: Any
) -> Select[Any]:
    month = _month_of(session, table.c.day)
    return (
        select(month.label("month"), *(sign * func.sum(table.c[k]) for k in MOVES))
        .where(table.c.day <= last_day, *where)
        .group_by(month)
    )


def _by_month(session: Session, stmt: Any) -> dict[str, MonthMoves]:
    found: dict[str, MonthMoves] = {}
    for month, *moves in session.execute(stmt).all():
        total = found.setdefault(str(month), MonthMoves())
        for key, n in zip(MOVES, moves, strict=True):
            setattr(total, key, getattr(total, key) + int(n))
    return found


def every_moves_per_month(
    session: Session, counted: Subquery, last_day: date
) -> dict[str, MonthMoves]:
    """Every counted commitment's timeline moves per calendar month (``YYYY-MM``) up to
    ``last_day``, in one statement: ``counted`` is every commitment but the archived
    ones and those made after the clock's day, so the days come from ``timeline_day``
    less the rows of the commitments left out (few)."""
    rows, days = table_of(CommitmentTimelineDay), table_of(TimelineDay)
    query = counted.element
    counted_where = query.whereclause if isinstance(query, Select) else None
    commitment = table_of(Commitment)
    left_out = select(commitment.c.id).where(
        not_(counted_where) if counted_where is not None else false()
    )
    return _by_month(
        session,
        union_all(
            _sums(session, days, last_day, 1),
            _sums(session, rows, last_day, -1, rows.c.commitment_id.in_(left_out)),
        ),
    )


def moves_per_month(session: Session, ids: list[int], last_day: date) -> dict[str, MonthMoves]:
    """These commitments' timeline moves per calendar month up to ``last_day``, summed
    from their rows in ``commitment_timeline_day`` (one statement).

    The ids are bound, not a subquery: PostgreSQL guesses that half the commitments
    pass a ministry filter, and with that guess it scans every row (or, made to probe,
    compiles the statement, 75 ms at M).
    """
    rows = table_of(CommitmentTimelineDay)
    return _by_month(session, _sums(session, rows, last_day, 1, rows.c.commitment_id.in_(ids)))


def counted_ids(session: Session, counted: FromClause) -> tuple[list[int], date | None]:
    """The counted commitments' ids and the first commitment date among them."""
    rows = session.execute(select(counted.c.id, counted.c.committed_on)).all()
    first = min((day for _, day in rows), default=None)
    return [int(key) for key, _ in rows], first


def first_commitment_date(session: Session, counted: FromClause) -> date | None:
    value = session.execute(select(func.min(counted.c.committed_on))).scalar_one()
    return value if isinstance(value, date) else None


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _month_of(session: Session, day: Expr) -> Expr:
    if _dialect(session) == "postgresql":
        return func.to_char(day, "YYYY-MM")
    return func.strftime("%Y-%m", day)
