"""Timeline queries: updates per month and the moves of completed and overdue counts.

Each reads maintained tables (``update_month``, ``commitment_closed_span``) so a
request does not order every update of every commitment.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    FromClause,
    Select,
    Subquery,
    false,
    func,
    literal,
    literal_column,
    not_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from vpitracker.commitments.repository import month_of
from vpitracker.models import (
    Commitment,
    CommitmentClosedSpan,
    StatusUpdate,
    UpdateMonth,
    table_of,
)
from vpitracker.vocab import ReportedStatus

# Largest timeline the API will draw (20 years of months).
MAX_PERIODS = 240

# A day or month expression over timestamp or date columns.
Expr = ColumnElement[Any]


def updates_per_month(
    session: Session, counted: Subquery, start: datetime, end: datetime, *, every: bool
) -> dict[str, int]:
    """Updates posted per calendar month (UTC, ``YYYY-MM``) in [start, end), in one statement.

    ``every``: ``counted`` is every commitment but the archived ones and those made
    after the clock's day. Then whole months come from ``update_month`` less the
    updates of the commitments left out (few), and only a month cut short by
    ``end`` is counted from the updates. Otherwise (a filter narrows ``counted``)
    the counted commitments' updates are grouped.
    """
    updates, commitment = table_of(StatusUpdate), table_of(Commitment)
    dialect = _dialect(session)
    month = month_of(updates.c.reported_at, dialect)
    if not every:
        stmt = (
            select(month.label("month"), func.count())
            .select_from(updates)
            .join(counted, counted.c.id == updates.c.commitment_id)
            .where(updates.c.reported_at >= start, updates.c.reported_at < end)
            .group_by(month)
        )
        return {str(key): int(n) for key, n in session.execute(stmt).all()}
    # Whole months end where ``end``'s month begins (unless ``end`` is a month's first instant).
    whole_end = end.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    months = table_of(UpdateMonth)
    query = counted.element
    counted_where = query.whereclause if isinstance(query, Select) else None
    left_out = select(commitment.c.id).where(
        not_(counted_where) if counted_where is not None else false()
    )
    parts = [
        select(months.c.month, months.c.updates.label("n")).where(
            months.c.month >= start.strftime("%Y-%m"), months.c.month < whole_end.strftime("%Y-%m")
        ),
        select(month.label("month"), (-func.count()).label("n"))
        .where(
            updates.c.commitment_id.in_(left_out),
            updates.c.reported_at >= start,
            updates.c.reported_at < whole_end,
        )
        .group_by(month),
    ]
    if whole_end < end:
        parts.append(
            select(month.label("month"), func.count().label("n"))
            .select_from(updates)
            .join(counted, counted.c.id == updates.c.commitment_id)
            .where(updates.c.reported_at >= max(start, whole_end), updates.c.reported_at < end)
            .group_by(month)
        )
    posted: dict[str, int] = {}
    for key, n in session.execute(union_all(*parts)).all():
        posted[str(key)] = posted.get(str(key), 0) + int(n)
    return posted


def first_commitment_date(session: Session, counted: FromClause) -> date | None:
    value = session.execute(select(func.min(counted.c.committed_on))).scalar_one()
    return value if isinstance(value, date) else None


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _day_of(session: Session, instant: Expr) -> Expr:
    """The UTC calendar day of a timestamp column, as a date."""
    if _dialect(session) == "postgresql":
        return func.date(func.timezone("UTC", instant))
    return func.date(instant)


def _day_after(session: Session, day: Expr) -> Expr:
    if _dialect(session) == "postgresql":
        return (day + literal_column("1")).cast(Date())
    return func.date(day, "+1 day")


def _latest_of(session: Session, *days: Expr) -> Expr:
    if _dialect(session) == "postgresql":
        return func.greatest(*days)
    return func.max(*days)  # SQLite's max() of several arguments is a scalar


def _month_of(session: Session, day: Expr) -> Expr:
    if _dialect(session) == "postgresql":
        return func.to_char(day, "YYYY-MM")
    return func.strftime("%Y-%m", day)


def timeline_moves(
    session: Session, counted: FromClause, last_day: date
) -> dict[tuple[str, str], int]:
    """How many commitments enter and leave each figure per month, up to ``last_day``.

    A commitment counts as completed at a period's end ``e`` while a completed span
    is current then and it was committed by then: its first day ``s`` (the later of
    the span's day and ``committed_on``) is ``<= e`` and the span's end day ``u``
    (the next update's day) is ``> e``. So each span adds one from the month of
    ``s`` and takes it back from the month of ``u`` (``u`` raised to ``s`` when
    earlier, so an empty span adds nothing). Overdue at ``e`` is "due before ``e``
    and committed by then" (day ``max(committed_on, due_date + 1)``, never leaving)
    minus the closed spans current at ``e`` of those. Keys are (figure, ``YYYY-MM``):
    ``completed+``/``completed-``, ``closed_due+``/``closed_due-`` and ``due+``.
    One grouped statement over the closed spans and the counted commitments.
    """
    spans = table_of(CommitmentClosedSpan)
    counted = select(counted.c.id, counted.c.due_date, counted.c.committed_on).subquery("counted")
    day = _day_of(session, spans.c.reported_at)
    until = _day_of(session, spans.c.until)
    after_due = _day_after(session, counted.c.due_date)
    completed_from = _latest_of(session, day, counted.c.committed_on)
    closed_due_from = _latest_of(session, day, counted.c.committed_on, after_due)
    joined = spans.join(counted, counted.c.id == spans.c.commitment_id)

    def moves(
        kind: str, source: FromClause, on_day: Expr, *where: ColumnElement[bool]
    ) -> Select[str, Any, int]:
        month = _month_of(session, on_day)
        return (
            select(literal(kind).label("kind"), month.label("month"), func.count().label("n"))
            .select_from(source)
            .where(on_day <= last_day, *where)
            .group_by(month)
        )

    is_completed = spans.c.status == ReportedStatus.completed.value
    ends = spans.c.until.is_not(None)
    stmt = union_all(
        moves("completed+", joined, completed_from, is_completed),
        moves("completed-", joined, _latest_of(session, completed_from, until), is_completed, ends),
        moves("closed_due+", joined, closed_due_from),
        moves("closed_due-", joined, _latest_of(session, closed_due_from, until), ends),
        moves("due+", counted, _latest_of(session, counted.c.committed_on, after_due)),
    )
    return {(str(k), str(m)): int(n) for k, m, n in session.execute(stmt).all()}
