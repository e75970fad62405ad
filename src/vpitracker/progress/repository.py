"""Aggregate queries: every figure is counted by the database in one statement."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Date,
    MetaData,
    Table,
    case,
    false,
    func,
    insert,
    literal,
    literal_column,
    not_,
    select,
    union_all,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from vpitracker.commitments.repository import month_of
from vpitracker.models import (
    Commitment,
    CommitmentClosedSpan,
    CommitmentRecommendation,
    CommitmentSupport,
    Ministry,
    Provision,
    RecommendationProvision,
    StatusUpdate,
    UpdateMonth,
    table_of,
)
from vpitracker.vocab import (
    DerivedVerdict,
    Implementation,
    ReportedStatus,
)

# Largest timeline the API will draw (20 years of months).
MAX_PERIODS = 240


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
        **{s.value: int(m[s.value]) for s in ReportedStatus},
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
class MinistryFigures:
    figures: FigureRow
    id: int
    code: str
    name: str
    led: int
    supporting: int
    last_at: datetime | None


@dataclass(frozen=True)
class BucketFigures:
    """A cluster (int) or instrument (str); None: the commitments with none."""

    figures: FigureRow
    bucket: int | str | None
    commitments: int


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def figure_columns(counted: Any) -> list[ColumnElement[Any]]:
    """Status counts, flags and mean progress over the rows of ``counted``."""
    c = counted.c
    return [
        *(_count_if(c.reported_status == s.value).label(s.value) for s in ReportedStatus),
        _count_if(c.overdue == True).label("overdue"),  # noqa: E712 - SQL boolean
        _count_if(c.stale == True).label("stale"),  # noqa: E712
        _count_if(c.contested == True).label("contested"),  # noqa: E712
        func.avg(c.progress_percent).label("mean_progress_percent"),
    ]


def summary(
    session: Session, counted: Any, recommendations: Any
) -> tuple[CommitmentTotals, RecommendationTotals]:
    """(commitment figures, recommendation figures) — two statements."""
    c = counted.c
    commitments = (
        session.execute(
            select(
                func.count().label("commitments"),
                *figure_columns(counted),
                *(
                    _count_if(c.verdict == v.value).label(f"verdict_{v.value}")
                    for v in DerivedVerdict
                ),
            ).select_from(counted)
        )
        .one()
        ._mapping
    )
    r = recommendations.c
    recs = (
        session.execute(
            select(
                func.count().label("recommendations"),
                *(_count_if(r.implementation == i.value).label(i.value) for i in Implementation),
            ).select_from(recommendations)
        )
        .one()
        ._mapping
    )
    return (
        CommitmentTotals(
            figures=_figure_row(commitments),
            commitments=int(commitments["commitments"]),
            verdicts={v.value: int(commitments[f"verdict_{v.value}"]) for v in DerivedVerdict},
        ),
        RecommendationTotals(
            recommendations=int(recs["recommendations"]),
            implementations={i.value: int(recs[i.value]) for i in Implementation},
        ),
    )


def ministries(
    session: Session,
    counted: Any,
    *,
    ministry_id: int | None,
    cutoff: datetime | None,
    involved: Any | None = None,
) -> list[MinistryFigures]:
    """One row per non-archived ministry, in one statement.

    ``involved``: the same commitments as ``counted`` without their derived state
    (cheaper), to count the supporting ministries over.
    """
    c = counted.c
    involved = counted if involved is None else involved
    led = (
        select(
            c.lead_ministry_id.label("ministry_id"),
            func.count().label("led"),
            *figure_columns(counted),
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
    if cutoff is not None:
        last_at = last_at.where(updates.c.reported_at < cutoff)
    stmt = (
        select(
            m.c.id,
            m.c.code,
            m.c.name,
            func.coalesce(led.c.led, 0).label("led"),
            func.coalesce(supporting.c.supporting, 0).label("supporting"),
            *(func.coalesce(led.c[s.value], 0).label(s.value) for s in ReportedStatus),
            func.coalesce(led.c.overdue, 0).label("overdue"),
            func.coalesce(led.c.stale, 0).label("stale"),
            func.coalesce(led.c.contested, 0).label("contested"),
            led.c.mean_progress_percent,
            last_at.correlate(m).scalar_subquery().label("last_at"),
        )
        .outerjoin(led, led.c.ministry_id == m.c.id)
        .outerjoin(supporting, supporting.c.ministry_id == m.c.id)
        .where(m.c.archived_at.is_(None))
        .order_by(m.c.code)
    )
    if ministry_id is not None:
        stmt = stmt.where(m.c.id == ministry_id)
    return [
        MinistryFigures(
            figures=_figure_row(row),
            id=int(row["id"]),
            code=str(row["code"]),
            name=str(row["name"]),
            led=int(row["led"]),
            supporting=int(row["supporting"]),
            last_at=row["last_at"],
        )
        for row in session.execute(stmt).mappings()
    ]


def _pairs(field: str) -> Any:
    """(commitment, cluster or instrument) through its recommendations' provisions."""
    links = table_of(CommitmentRecommendation)
    rp = table_of(RecommendationProvision)
    p = table_of(Provision)
    return (
        select(links.c.commitment_id, p.c[field].label("bucket"))
        .join(rp, rp.c.recommendation_id == links.c.recommendation_id)
        .join(p, p.c.key == rp.c.provision_key)
        .where(p.c[field].is_not(None))
    )


def by_provision_field(session: Session, counted: Any, field: str) -> list[BucketFigures]:
    """Figures per cluster or instrument: a commitment counts under each of its own.

    One statement: a commitment with none counts once under the bucket NULL.
    """
    pairs = _pairs(field).distinct().subquery("pairs")
    joined = (
        select(pairs.c.bucket, counted)
        .select_from(counted)
        .outerjoin(pairs, counted.c.id == pairs.c.commitment_id)
        .subquery("joined")
    )
    stmt = (
        select(joined.c.bucket, func.count().label("commitments"), *figure_columns(joined))
        .group_by(joined.c.bucket)
        .order_by(joined.c.bucket)
    )
    return [
        BucketFigures(
            figures=_figure_row(row),
            bucket=row["bucket"],
            commitments=int(row["commitments"]),
        )
        for row in session.execute(stmt).mappings()
    ]


def updates_per_month(
    session: Session, counted: Any, start: datetime, end: datetime, *, every: bool
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
    counted_where = counted.element.whereclause
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


def first_commitment_date(session: Session, counted: Any) -> date | None:
    value = session.execute(select(func.min(counted.c.committed_on))).scalar_one()
    return value if isinstance(value, date) else None


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _day_of(session: Session, instant: Any) -> Any:
    """The UTC calendar day of a timestamp column, as a date."""
    if _dialect(session) == "postgresql":
        return func.date(func.timezone("UTC", instant))
    return func.date(instant)


def _day_after(session: Session, day: Any) -> Any:
    if _dialect(session) == "postgresql":
        return (day + literal_column("1")).cast(Date())
    return func.date(day, "+1 day")


def _latest_of(session: Session, *days: Any) -> Any:
    if _dialect(session) == "postgresql":
        return func.greatest(*days)
    return func.max(*days)  # SQLite's max() of several arguments is a scalar


def _month_of(session: Session, day: Any) -> Any:
    if _dialect(session) == "postgresql":
        return func.to_char(day, "YYYY-MM")
    return func.strftime("%Y-%m", day)


def timeline_moves(session: Session, counted: Any, last_day: date) -> dict[tuple[str, str], int]:
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

    def moves(kind: str, source: Any, on_day: Any, *where: Any) -> Any:
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


# The page's copy of the derived state lives in the request's own connection only.
STATE_TABLE = "scorecard_state"


@contextmanager
def materialized(session: Session, counted: Any, columns: tuple[str, ...]) -> Iterator[Any]:
    """``counted``'s rows (only ``columns``) in a temporary table, for several figures.

    The derived state is computed once for all the figures read from the table,
    instead of once per figure. The table belongs to this transaction's connection
    and is dropped at the end (on PostgreSQL also when the transaction ends). Where
    no temporary table can be made (a read-only standby), ``counted`` itself is
    used, and each figure derives the state again.
    """
    chosen = [counted.c[name] for name in columns]
    table = Table(
        STATE_TABLE,
        MetaData(),
        *(Column(c.name, c.type) for c in chosen),
        prefixes=["TEMPORARY"],
        postgresql_on_commit="DROP",
    )
    try:
        with session.begin_nested():
            # Taken inside the savepoint, so a refused CREATE rolls back to it only.
            connection = session.connection()
            table.create(connection)
            session.execute(insert(table).from_select(list(columns), select(*chosen)))
    except DBAPIError:
        yield counted
        return
    yield table
    table.drop(connection)
