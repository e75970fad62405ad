"""Aggregate queries: every figure is counted by the database in one statement."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from vpitracker.models import (
    CommitmentClosedSpan,
    CommitmentRecommendation,
    CommitmentSupport,
    Ministry,
    Provision,
    RecommendationProvision,
    StatusUpdate,
    table_of,
)
from vpitracker.vocab import (
    DerivedVerdict,
    Implementation,
    ReportedStatus,
)

# Largest timeline the API will draw (20 years of months).
MAX_PERIODS = 240


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


def summary(session: Session, counted: Any, recommendations: Any) -> tuple[Any, Any]:
    """(commitment figures, recommendation figures) — two statements."""
    c = counted.c
    commitments = session.execute(
        select(
            func.count().label("commitments"),
            *figure_columns(counted),
            *(_count_if(c.verdict == v.value).label(f"verdict_{v.value}") for v in DerivedVerdict),
        ).select_from(counted)
    ).one()
    r = recommendations.c
    recs = session.execute(
        select(
            func.count().label("recommendations"),
            *(_count_if(r.implementation == i.value).label(i.value) for i in Implementation),
        ).select_from(recommendations)
    ).one()
    return commitments, recs


def ministries(
    session: Session,
    counted: Any,
    *,
    ministry_id: int | None,
    cutoff: datetime | None,
) -> list[Any]:
    """One row per non-archived ministry, in one statement."""
    c = counted.c
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
        .join(counted, counted.c.id == support.c.commitment_id)
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
    return list(session.execute(stmt).all())


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


def without_provision_field(session: Session, counted: Any, field: str) -> int:
    """How many counted commitments have no cluster (or instrument) at all."""
    links = table_of(CommitmentRecommendation)
    placed = _pairs(field).where(links.c.commitment_id == counted.c.id).exists()
    stmt = select(func.count()).select_from(counted).where(~placed)
    return int(session.execute(stmt).scalar_one())


def by_provision_field(session: Session, counted: Any, field: str) -> list[Any]:
    """Figures per cluster or instrument: a commitment counts under each of its own."""
    pairs = _pairs(field).distinct().subquery("pairs")
    joined = (
        select(pairs.c.bucket, counted)
        .join(counted, counted.c.id == pairs.c.commitment_id)
        .subquery("joined")
    )
    stmt = (
        select(joined.c.bucket, func.count().label("commitments"), *figure_columns(joined))
        .group_by(joined.c.bucket)
        .order_by(joined.c.bucket)
    )
    return list(session.execute(stmt).all())


def updates_per_month(
    session: Session, counted: Any, start: datetime, end: datetime
) -> dict[str, int]:
    """Updates posted per calendar month (UTC, ``YYYY-MM``) in [start, end): one grouped scan."""
    updates = table_of(StatusUpdate)
    if session.get_bind().dialect.name == "postgresql":
        month = func.to_char(func.timezone("UTC", updates.c.reported_at), "YYYY-MM")
    else:
        month = func.strftime("%Y-%m", updates.c.reported_at)
    stmt = (
        select(month.label("month"), func.count())
        .select_from(updates)
        .join(counted, counted.c.id == updates.c.commitment_id)
        .where(updates.c.reported_at >= start, updates.c.reported_at < end)
        .group_by(month)
    )
    return {str(key): int(n) for key, n in session.execute(stmt).all()}


def first_commitment_date(session: Session, counted: Any) -> date | None:
    value = session.execute(select(func.min(counted.c.committed_on))).scalar_one()
    return value if isinstance(value, date) else None


def _instant(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def timeline(session: Session, counted_all: Any, periods: list[tuple[date, date]]) -> list[Any]:
    """Per period: updates posted, completed (as of its end), overdue at its end.

    ``counted_all`` holds the commitments counted at the last period's end; an
    earlier period leaves out those committed after it. A commitment's status at
    an instant comes from the update current then: each update is current from
    its ``reported_at`` until the next update of the same commitment. Only the
    spans of closed statuses (completed, cancelled) matter to the completion and
    overdue figures; ``commitment_closed_span`` keeps exactly those, so this reads
    them instead of ordering every update. A later update than an ``as_of`` date
    only ever moves ``until`` past every period end, which changes no figure.
    """
    spans = table_of(CommitmentClosedSpan)
    instant_type = spans.c.reported_at.type
    counted = select(counted_all.c.id, counted_all.c.due_date, counted_all.c.committed_on).cte(
        "counted"
    )
    closed = (
        select(
            spans.c.commitment_id,
            spans.c.status,
            spans.c.reported_at,
            spans.c.until,
            counted.c.due_date,
            counted.c.committed_on,
        )
        .join(counted, counted.c.id == spans.c.commitment_id)
        .cte("closed_spans")
    )
    period = union_all(
        *(
            select(
                literal(first, Date()).label("period_start"),
                literal(last, Date()).label("period_end"),
                literal(_instant(first), instant_type).label("start_at"),
                literal(_instant(last + timedelta(days=1)), instant_type).label("end_at"),
            )
            for first, last in periods
        )
    ).cte("period")

    def count(source: Any, *where: ColumnElement[bool]) -> Any:
        return (
            select(func.count())
            .select_from(source)
            .where(*where)
            .correlate(period)
            .scalar_subquery()
        )

    current_at_end = and_(
        closed.c.reported_at < period.c.end_at,
        or_(closed.c.until.is_(None), closed.c.until >= period.c.end_at),
        closed.c.committed_on <= period.c.period_end,
    )
    completed = count(closed, current_at_end, closed.c.status == ReportedStatus.completed.value)
    closed_and_due = count(closed, current_at_end, closed.c.due_date < period.c.period_end)
    due = count(
        counted,
        counted.c.due_date < period.c.period_end,
        counted.c.committed_on <= period.c.period_end,
    )
    stmt = select(
        period.c.period_start,
        period.c.period_end,
        completed.label("completed"),
        (due - closed_and_due).label("overdue"),
    ).order_by(period.c.period_start)
    return list(session.execute(stmt).all())
