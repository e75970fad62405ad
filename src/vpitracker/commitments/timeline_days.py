"""The timeline's moves per commitment and day (``commitment_timeline_day``) and their
sum per day (``timeline_day``): kept by every write that changes them, rebuilt after
bulk loads. Queries only, like a repository.

A commitment's rows follow from its status updates, its closed spans, its
commitment date and its due date (docs/concepts.md, the timeline):

- ``updates``: one on the UTC day of each status update;
- ``completed``: +1 on the first day a completed span counts (the later of its day
  and the commitment date), -1 on the day it ends (the next update's day, raised to
  the first day when earlier, so an empty span adds nothing);
- ``closed_due``: the same for every closed span, counted from the day the
  commitment is due (the day after its due date, or its commitment date if later);
- ``due``: +1 on that day, never taken back.

So at a day ``e`` completed is the sum of ``completed`` over the days up to ``e``,
and overdue the sum of ``due`` less the sum of ``closed_due``. A commitment's rows
do not depend on its ministries, links or archive state: the timeline picks the
counted commitments' rows when it reads them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Insert,
    Select,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from vpitracker.models import (
    Commitment,
    CommitmentClosedSpan,
    CommitmentTimelineDay,
    StatusUpdate,
    TimelineDay,
    table_of,
)
from vpitracker.vocab import ReportedStatus

# The moves' columns, in the tables' order.
MOVES = ("updates", "completed", "closed_due", "due")

# A day's moves: (updates, completed, closed_due, due).
Moves = tuple[int, int, int, int]

Expr = ColumnElement[Any]


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def day_of(dialect: str, instant: Expr) -> Expr:
    """The UTC calendar day of a timestamp column, as a date."""
    if dialect == "postgresql":
        return func.date(func.timezone("UTC", instant))
    return func.date(instant)


def _day_after(dialect: str, day: Expr) -> Expr:
    if dialect == "postgresql":
        return (day + literal_column("1")).cast(Date())
    return func.date(day, "+1 day")


def _latest(dialect: str, *days: Expr) -> Expr:
    if dialect == "postgresql":
        return func.greatest(*days)
    return func.max(*days)  # SQLite's max() of several arguments is a scalar


@cache
def moves_query(dialect: str, of_some: bool) -> Select[Any]:
    """(commitment_id, day, updates, completed, closed_due, due) from the history, one row
    per commitment and day with a move: of every commitment, or (``of_some``) of those in
    the bound list ``commitment_ids``. Built once per shape: every post runs it, and
    building its six-part union costs more than running it."""
    su, spans, c = table_of(StatusUpdate), table_of(CommitmentClosedSpan), table_of(Commitment)
    due_from = _latest(dialect, c.c.committed_on, _day_after(dialect, c.c.due_date))
    span_day = day_of(dialect, spans.c.reported_at)
    until = day_of(dialect, spans.c.until)
    completed_from = _latest(dialect, span_day, c.c.committed_on)
    closed_due_from = _latest(dialect, span_day, due_from)
    with_commitment = spans.join(c, c.c.id == spans.c.commitment_id)
    is_completed = spans.c.status == ReportedStatus.completed.value
    ends = spans.c.until.is_not(None)

    def part(
        key: Expr, on_day: Expr, kind: str, n: int, source: Any, *where: ColumnElement[bool]
    ) -> Select[Any]:
        ids = (key.in_(bindparam("commitment_ids", expanding=True)),) if of_some else ()
        values: list[Expr] = [literal_column(str(n if k == kind else 0)).label(k) for k in MOVES]
        return (
            select(key.label("commitment_id"), on_day.label("day"), *values)
            .select_from(source)
            .where(*where, *ids)
        )

    parts = union_all(
        part(su.c.commitment_id, day_of(dialect, su.c.reported_at), "updates", 1, su),
        part(spans.c.commitment_id, completed_from, "completed", 1, with_commitment, is_completed),
        part(
            spans.c.commitment_id,
            _latest(dialect, completed_from, until),
            "completed",
            -1,
            with_commitment,
            is_completed,
            ends,
        ),
        part(spans.c.commitment_id, closed_due_from, "closed_due", 1, with_commitment),
        part(
            spans.c.commitment_id,
            _latest(dialect, closed_due_from, until),
            "closed_due",
            -1,
            with_commitment,
            ends,
        ),
        part(c.c.id, due_from, "due", 1, c),
    ).subquery("moves")
    return select(
        parts.c.commitment_id,
        type_coerce(parts.c.day, Date()).label("day"),
        *(func.sum(parts.c[k]).label(k) for k in MOVES),
    ).group_by(parts.c.commitment_id, parts.c.day)


NONE: Moves = (0, 0, 0, 0)


def _plus(a: Moves, b: Sequence[int], sign: int = 1) -> Moves:
    return (a[0] + sign * b[0], a[1] + sign * b[1], a[2] + sign * b[2], a[3] + sign * b[3])


def _difference(old: dict[date, Moves], new: dict[date, Moves]) -> dict[date, Moves]:
    """What changed per day from ``old`` to ``new`` (days with no change left out)."""
    changed: dict[date, Moves] = {}
    for day in old.keys() | new.keys():
        delta = _plus(new.get(day, NONE), old.get(day, NONE), -1)
        if any(delta):
            changed[day] = delta
    return changed


def rewrite(session: Session, commitment_ids: Iterable[int]) -> list[Insert]:
    """Rewrite these commitments' rows from their history; the upserts that add what
    changed to ``timeline_day`` (none when nothing did), for the caller to run, under
    the chain lock when they are a post's.

    Three statements: the old rows deleted (returned), the new ones read, then written.
    """
    ids = sorted(set(commitment_ids))
    rows = table_of(CommitmentTimelineDay)
    removed = session.execute(
        delete(rows)
        .where(rows.c.commitment_id.in_(ids))
        .returning(rows.c.day, *(rows.c[k] for k in MOVES))
    ).all()
    old: dict[date, Moves] = {}
    for day, *moves in removed:
        old[day] = _plus(old.get(day, NONE), moves)
    fresh = session.execute(moves_query(_dialect(session), True), {"commitment_ids": ids}).all()
    if fresh:
        session.execute(insert(rows), [dict(row._mapping) for row in fresh])
    new = {row.day: (row.updates, row.completed, row.closed_due, row.due) for row in fresh}
    return add_to_days(session, _difference(old, new))


def add_to_days(session: Session, changes: dict[date, Moves]) -> list[Insert]:
    """The upserts adding ``changes`` to ``timeline_day``, one single-row statement a day
    (a multi-row VALUES has no compiled-cache key: it would be compiled anew on every
    post, under the chain lock)."""
    days = table_of(TimelineDay)
    dialect_insert = pg_insert if _dialect(session) == "postgresql" else sqlite_insert
    upserts: list[Insert] = []
    for day, moves in sorted(changes.items()):
        upsert = dialect_insert(days).values({"day": day, **dict(zip(MOVES, moves, strict=True))})
        upserts.append(
            upsert.on_conflict_do_update(
                index_elements=[days.c.day],
                set_={k: days.c[k] + upsert.excluded[k] for k in MOVES},
            )
        )
    return upserts


def refresh(session: Session, commitment_ids: Iterable[int] | None = None) -> None:
    """Rebuild the rows from the history (all, or these commitments) and ``timeline_day``."""
    if commitment_ids is not None:
        for change in rewrite(session, commitment_ids):
            session.execute(change)
        return
    rows, days = table_of(CommitmentTimelineDay), table_of(TimelineDay)
    session.execute(delete(rows))
    session.execute(delete(days))
    session.execute(
        insert(rows).from_select(
            ["commitment_id", "day", *MOVES], moves_query(_dialect(session), False)
        )
    )
    session.execute(
        insert(days).from_select(
            ["day", *MOVES],
            select(rows.c.day, *(func.sum(rows.c[k]) for k in MOVES)).group_by(rows.c.day),
        )
    )
