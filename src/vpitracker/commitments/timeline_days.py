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

``ministry_timeline_day`` holds the same sums per ministry, over the commitments it
leads or supports (archived ones too): what a rewrite changes in a commitment's rows
is added to each of its ministries' rows, and a change of its ministries moves its
rows from the ministries it left to those it joined.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Date,
    Delete,
    FromClause,
    Insert,
    Integer,
    Select,
    Table,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    true,
    type_coerce,
    union,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from vpitracker.db import Bound, Builder, write_together
from vpitracker.models import (
    Commitment,
    CommitmentClosedSpan,
    CommitmentSupport,
    CommitmentTimelineDay,
    MinistryTimelineDay,
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
def moves_query(dialect: str, of_some: bool) -> Select[int, date, *Moves]:
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
        key: Expr, on_day: Expr, kind: str, n: int, source: FromClause, *where: ColumnElement[bool]
    ) -> Select[int, date, *Moves]:
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


# A commitment's rows: its moves per day.
Days = dict[date, Moves]


@cache
def _kept_and_fresh(dialect: str) -> CompoundSelect[Any]:
    """(fresh, commitment_id, day, moves...): the rows kept for the bound
    ``commitment_ids`` (fresh 0) and the rows their history gives now (fresh 1)."""
    rows, fresh = table_of(CommitmentTimelineDay), moves_query(dialect, True).subquery()
    return union_all(
        select(literal_column("0").label("fresh"), rows.c.commitment_id, rows.c.day, *(
            rows.c[k] for k in MOVES
        )).where(rows.c.commitment_id.in_(bindparam("commitment_ids", expanding=True))),
        select(literal_column("1"), fresh.c.commitment_id, fresh.c.day, *(
            fresh.c[k] for k in MOVES
        )),
    )  # fmt: skip


@cache
def _row_writes(dialect: str) -> tuple[Delete, Insert]:
    """A kept row removed, and one written (inserted, or its moves replaced)."""
    rows = table_of(CommitmentTimelineDay)
    key = (rows.c.commitment_id, rows.c.day)
    remove = delete(rows).where(
        key[0] == bindparam("commitment_id", type_=Integer()),
        key[1] == bindparam("day", type_=Date()),
    )
    upsert = (pg_insert if dialect == "postgresql" else sqlite_insert)(rows)
    return remove, upsert.on_conflict_do_update(
        index_elements=list(key), set_={k: upsert.excluded[k] for k in MOVES}
    )


def rewrite(
    session: Session,
    commitment_ids: Iterable[int],
    *,
    ministries_before: Mapping[int, Collection[int]] | None = None,
) -> list[Bound]:
    """Bring these commitments' rows in line with their history; the upserts that add
    what changed to ``timeline_day`` and ``ministry_timeline_day`` (none when nothing
    did), for the caller to run, under the chain lock when they are a post's.

    ``ministries_before``: the lead and supporting ministries a commitment had before
    a change of them (its rows then leave those ministries' sums for the current ones).

    One read (the kept rows and the ones the history gives now), then only the rows
    that differ are written: a post changes one or two of a commitment's days, not all
    of them (and the current ministries read, of a commitment in ``ministries_before``).
    """
    ids = sorted(set(commitment_ids))
    dialect = _dialect(session)
    old: dict[int, Days] = {}
    new: dict[int, Days] = {}
    for is_fresh, key, day, *got in session.execute(
        _kept_and_fresh(dialect), {"commitment_ids": ids}
    ):
        (new if is_fresh else old).setdefault(key, {})[day] = (got[0], got[1], got[2], got[3])
    remove, upsert = _row_writes(dialect)
    gone, written = [], []
    for key in ids:
        before, after = old.get(key, {}), new.get(key, {})
        gone += [{"commitment_id": key, "day": d} for d in sorted(before.keys() - after.keys())]
        written += [
            {"commitment_id": key, "day": d, **dict(zip(MOVES, moves, strict=True))}
            for d, moves in sorted(after.items())
            if before.get(d) != moves
        ]
    if gone:
        session.execute(remove, gone)
    if written:
        session.execute(upsert, written)
    total: Days = {}
    by_ministry: list[Bound] = []
    for key in ids:
        before, after = old.get(key, {}), new.get(key, {})
        change = _difference(before, after)
        for day, moves in change.items():
            total[day] = _plus(total.get(day, NONE), moves)
        if ministries_before is not None and key in ministries_before:
            by_ministry += _moved(session, key, set(ministries_before[key]), before, after)
        else:
            by_ministry += [_to_ministries(key, d, change[d]) for d in sorted(change)]
    return [*add_to_days(_difference({}, total)), *by_ministry]


@cache
def _adding(table: Table, keys: tuple[str, ...]) -> Builder:
    """The upsert adding moves to one row of ``table`` (``keys`` name it), one builder
    per table (see ``db.Bound``)."""

    def build(dialect: str, prefix: str) -> Insert:
        columns = (*keys, *MOVES)
        upsert = (pg_insert if dialect == "postgresql" else sqlite_insert)(table).values(
            {k: bindparam(prefix + k, type_=table.c[k].type) for k in columns}
        )
        return upsert.on_conflict_do_update(
            index_elements=[table.c[k] for k in keys],
            set_={k: table.c[k] + upsert.excluded[k] for k in MOVES},
        )

    return build


def _upsert(table: Table, key: dict[str, Any], moves: Moves) -> Bound:
    """One row of ``table`` (``key``) plus ``moves``: a single-row statement built once (a
    multi-row VALUES has no compiled-cache key: it would be compiled anew on every post,
    under the chain lock)."""
    return Bound(_adding(table, tuple(key)), {**key, **dict(zip(MOVES, moves, strict=True))})


def add_to_days(changes: dict[date, Moves]) -> list[Bound]:
    """The upserts adding ``changes`` to ``timeline_day``, one statement a day."""
    days = table_of(TimelineDay)
    return [_upsert(days, {"day": day}, changes[day]) for day in sorted(changes)]


def _involved(commitment_id: Any) -> Select[Any]:
    """The commitment's lead and supporting ministries (each once)."""
    c, support = table_of(Commitment), table_of(CommitmentSupport)
    lead = select(c.c.lead_ministry_id.label("ministry_id")).where(c.c.id == commitment_id)
    supporting = select(support.c.ministry_id).where(support.c.commitment_id == commitment_id)
    return select(union(lead, supporting).subquery("involved").c.ministry_id)


def _to_ministries_write(dialect: str, prefix: str) -> Insert:
    table = table_of(MinistryTimelineDay)
    involved = _involved(bindparam(prefix + "commitment_id", type_=Integer())).subquery("m")
    upsert = (pg_insert if dialect == "postgresql" else sqlite_insert)(table).from_select(
        ["ministry_id", "day", *MOVES],
        # WHERE: SQLite would read the upsert's ON as a join's without one.
        select(
            involved.c.ministry_id,
            bindparam(prefix + "day", type_=Date()),
            *(bindparam(prefix + k, type_=Integer()) for k in MOVES),
        ).where(true()),
    )
    return upsert.on_conflict_do_update(
        index_elements=[table.c.ministry_id, table.c.day],
        set_={k: table.c[k] + upsert.excluded[k] for k in MOVES},
    )


def _to_ministries(commitment_id: int, day: date, moves: Moves) -> Bound:
    """The upsert adding one day's change of a commitment's moves to each of its
    ministries' rows, the ministries read by the statement itself (no round trip)."""
    values = {"commitment_id": commitment_id, "day": day, **dict(zip(MOVES, moves, strict=True))}
    return Bound(_to_ministries_write, values)


def _moved(
    session: Session, commitment_id: int, before: set[int], old: Days, new: Days
) -> list[Bound]:
    """A commitment's ministries changed (from ``before``) and its rows from ``old`` to
    ``new``: the ministries it left lose ``old``, those it joined gain ``new``, those it
    kept gain the difference."""
    now = {int(m) for m in session.execute(_involved(commitment_id)).scalars()}
    table = table_of(MinistryTimelineDay)
    upserts: list[Bound] = []
    for ministry in sorted(before | now):
        change = _difference(old if ministry in before else {}, new if ministry in now else {})
        upserts += [
            _upsert(table, {"ministry_id": ministry, "day": day}, change[day])
            for day in sorted(change)
        ]
    return upserts


def _ministry_rows(rows: Table) -> Select[Any]:
    """``rows`` (per commitment and day) summed per ministry and day, over the ministries
    each commitment is led or supported by."""
    c, support = table_of(Commitment), table_of(CommitmentSupport)
    involved = union(
        select(c.c.id.label("commitment_id"), c.c.lead_ministry_id.label("ministry_id")),
        select(support.c.commitment_id, support.c.ministry_id),
    ).subquery("involved")
    return (
        select(involved.c.ministry_id, rows.c.day, *(func.sum(rows.c[k]) for k in MOVES))
        .join(involved, involved.c.commitment_id == rows.c.commitment_id)
        .group_by(involved.c.ministry_id, rows.c.day)
    )


def refresh(session: Session, commitment_ids: Iterable[int] | None = None) -> None:
    """Rebuild the rows from the history (all, or these commitments), ``timeline_day`` and
    ``ministry_timeline_day`` (of these commitments: over the ministries they have now)."""
    if commitment_ids is not None:
        # One by one: two commitments' changes may add to the same ministry's day.
        for change in rewrite(session, commitment_ids):
            write_together(session, [change])
        return
    rows, days = table_of(CommitmentTimelineDay), table_of(TimelineDay)
    ministries = table_of(MinistryTimelineDay)
    session.execute(delete(rows))
    session.execute(delete(days))
    session.execute(delete(ministries))
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
    session.execute(
        insert(ministries).from_select(["ministry_id", "day", *MOVES], _ministry_rows(rows))
    )
