"""Timeline queries: updates posted, and the moves of completed and overdue counts, per month.

They read the maintained rows of ``commitments.timeline_days`` (per commitment and
day, per ministry and day, and per day), so a request neither groups every update
of the counted commitments nor derives the moves from their spans.
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
    func,
    not_,
    select,
    true,
    union,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from vpitracker.models import (
    Commitment,
    CommitmentSupport,
    CommitmentTimelineDay,
    MinistryTimelineDay,
    TimelineDay,
    table_of,
)

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
    session: Session, table: FromClause, last_day: date, sign: int, *where: ColumnElement[bool]
) -> Select[Any]:
    month = _month_of(session, table.c.day)
    return (
        select(month.label("month"), *(sign * func.sum(table.c[k]) for k in MOVES))
        .where(table.c.day <= last_day, *where)
        .group_by(month)
    )


def _by_month(session: Session, stmt: Executable) -> dict[str, MonthMoves]:
    found: dict[str, MonthMoves] = {}
    for month, *moves in session.execute(stmt).all():
        total = found.setdefault(str(month), MonthMoves())
        for key, n in zip(MOVES, moves, strict=True):
            setattr(total, key, getattr(total, key) + int(n))
    return found


def _counted_where(counted: Subquery) -> ColumnElement[bool]:
    """What ``counted`` (a Select over the commitment table) asks of a commitment."""
    query = counted.element
    where = query.whereclause if isinstance(query, Select) else None
    return true() if where is None else where


def every_moves_per_month(
    session: Session, counted: Subquery, last_day: date
) -> dict[str, MonthMoves]:
    """Every counted commitment's timeline moves per calendar month (``YYYY-MM``) up to
    ``last_day``, in one statement: ``counted`` is every commitment but the archived
    ones and those made after the clock's day, so the days come from ``timeline_day``
    less the rows of the commitments left out (few)."""
    rows, days = table_of(CommitmentTimelineDay), table_of(TimelineDay)
    left_out = select(table_of(Commitment).c.id).where(not_(_counted_where(counted)))
    return _by_month(
        session,
        union_all(
            _sums(session, days, last_day, 1),
            _sums(session, rows, last_day, -1, rows.c.commitment_id.in_(left_out)),
        ),
    )


def _of_ministry(
    ministry_id: int, column: ColumnElement[Any], where: ColumnElement[bool]
) -> tuple[Select[Any], Select[Any]]:
    """``column`` (of the commitment table) of the commitments a ministry leads, and of
    those it supports, that meet ``where``: each read from its own index (an ``OR`` of
    the two is answered by scanning every commitment)."""
    c, support = table_of(Commitment), table_of(CommitmentSupport)
    led = select(column).where(c.c.lead_ministry_id == ministry_id, where)
    supported = (
        select(column)
        .select_from(support.join(c, c.c.id == support.c.commitment_id))
        .where(support.c.ministry_id == ministry_id, where)
    )
    return led, supported


def ministry_first_date(session: Session, every: Subquery, ministry_id: int) -> date | None:
    """The first commitment date among the commitments of ``every`` (the unfiltered
    counted ones) a ministry leads or supports (each part's min read from the
    commitment date's index)."""
    c = table_of(Commitment)
    parts = union_all(
        *_of_ministry(ministry_id, func.min(c.c.committed_on), _counted_where(every))
    ).subquery("firsts")
    value = session.execute(select(func.min(parts.c[0]))).scalar_one()
    return value if isinstance(value, date) else None


def ministry_moves_per_month(
    session: Session, every: Subquery, ministry_id: int, last_day: date
) -> dict[str, MonthMoves]:
    """The timeline moves per month up to ``last_day`` of the commitments of ``every``
    (the unfiltered counted ones) a ministry leads or supports, in one statement: the
    ministry's rows of ``ministry_timeline_day`` less the rows of its commitments left
    out (archived, or made after the clock's day)."""
    rows, days = table_of(CommitmentTimelineDay), table_of(MinistryTimelineDay)
    c = table_of(Commitment)
    left_out = union(*_of_ministry(ministry_id, c.c.id, not_(_counted_where(every))))
    return _by_month(
        session,
        union_all(
            _sums(session, days, last_day, 1, days.c.ministry_id == ministry_id),
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
