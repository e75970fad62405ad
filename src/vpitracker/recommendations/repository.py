"""Recommendation queries, implementation state included."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    Subquery,
    case,
    delete,
    func,
    literal,
    or_,
    true,
)
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from vpitracker.kernel.clock import Clock
from vpitracker.kernel.filters import RecommendationFilters
from vpitracker.kernel.state import ClockValues, figures_status
from vpitracker.models import (
    CommitmentFigures,
    CommitmentRecommendation,
    CommitmentSupport,
    Provision,
    Recommendation,
    RecommendationProvision,
    table_of,
)
from vpitracker.pagination import PageRequest, paginate_rows
from vpitracker.records import by_key, matches
from vpitracker.vocab import Implementation, ReportedStatus

SORTS = {
    "id": col(Recommendation.id),
    "code": col(Recommendation.code),
    "created_at": col(Recommendation.created_at),
}


class RecommendationWithImplementation(NamedTuple):
    recommendation: Recommendation
    implementation: str


def get(
    session: Session, recommendation_id: int, *, for_update: bool = False
) -> Recommendation | None:
    return by_key(session, Recommendation, recommendation_id, for_update=for_update)


def by_code(session: Session, code: str) -> Recommendation | None:
    return session.exec(select(Recommendation).where(Recommendation.code == code)).first()


def active_ids(session: Session, ids: Iterable[int]) -> set[int]:
    ids = list(ids)
    if not ids:
        return set()
    stmt = select(Recommendation.id).where(
        col(Recommendation.id).in_(ids), col(Recommendation.archived_at).is_(None)
    )
    return {i for i in session.exec(stmt).all() if i is not None}


def implementation_subquery(
    clock: Clock | ClockValues, *, per_row: bool = False, statuses: FromClause | None = None
) -> FromClause:
    """Per recommendation: counts over its non-archived commitments' reported statuses.

    Read from ``commitment_figures`` (one narrow row per non-archived commitment) and,
    as of a past day, the update spans current then. ``per_row`` (PostgreSQL): a
    LATERAL subquery counting one recommendation's commitments through the link
    table's index, so a select in ``code`` order returns its first rows before the
    others are counted; else one aggregate over all links, to be joined.
    ``statuses``: those commitments' statuses at ``clock`` as the caller has read
    them (every non-archived commitment made by the day, its ``commitment_id`` and
    ``status``), so a statement that reads them for its own figures reads them once.
    """
    links = table_of(CommitmentRecommendation)
    if statuses is not None and not per_row:
        return _counts(links, statuses, statuses.c.commitment_id, statuses.c.status).subquery(
            "impl"
        )
    joined, status = figures_status(clock)
    figures = table_of(CommitmentFigures)
    if per_row:
        stmt = _counts(links, joined, figures.c.commitment_id, status).where(
            links.c.recommendation_id == table_of(Recommendation).c.id
        )
        if clock.as_of is not None:
            stmt = stmt.where(figures.c.committed_on <= clock.as_of)
        return stmt.lateral("impl")
    each: FromClause = joined
    commitment_id: ColumnElement[int] = figures.c.commitment_id
    if clock.as_of is not None:
        # Each commitment's status as of the day once, then counted per recommendation:
        # SQLite would otherwise probe the spans once per link. PostgreSQL inlines the
        # query (its hash join already derives each status once).
        each = (
            sa_select(figures.c.commitment_id, status.label("status"))
            .select_from(joined)
            .where(figures.c.committed_on <= clock.as_of)
            .cte("statuses")
            .prefix_with("MATERIALIZED", dialect="sqlite")
        )
        commitment_id, status = each.c.commitment_id, each.c.status
    impl: Subquery = _counts(links, each, commitment_id, status).subquery("impl")
    return impl


def _counts(
    links: FromClause,
    each: FromClause,
    commitment_id: ColumnElement[int],
    status: ColumnElement[str],
) -> Select[int, int, int, int]:
    """Recommendation id, its commitments, how many completed, how many not started."""
    completed = func.sum(case((status == ReportedStatus.completed.value, 1), else_=0))
    not_started = func.sum(case((status == ReportedStatus.not_started.value, 1), else_=0))
    return (
        sa_select(
            links.c.recommendation_id.label("recommendation_id"),
            func.count().label("commitments"),
            completed.label("completed"),
            not_started.label("not_started"),
        )
        .select_from(links)
        .join(each, commitment_id == links.c.commitment_id)
        .group_by(links.c.recommendation_id)
    )


def implementation_expr(impl: FromClause) -> ColumnElement[str]:
    return case(
        (impl.c.commitments.is_(None), literal(Implementation.no_commitment.value)),
        (impl.c.completed == impl.c.commitments, literal(Implementation.completed.value)),
        (impl.c.not_started == impl.c.commitments, literal(Implementation.not_started.value)),
        else_=literal(Implementation.in_progress.value),
    )


def _provision_match(**where: str | int) -> ColumnElement[bool]:
    stmt = select(RecommendationProvision.recommendation_id).join(
        Provision, col(Provision.key) == col(RecommendationProvision.provision_key)
    )
    for field, value in where.items():
        stmt = stmt.where(getattr(Provision, field) == value)
    return col(Recommendation.id).in_(stmt)


def select_with_implementation(
    clock: Clock | ClockValues,
    filters: RecommendationFilters,
    *,
    per_row: bool = False,
    statuses: FromClause | None = None,
) -> Select[Recommendation, str]:
    """Recommendations under ``filters`` with their implementation at ``clock`` (a clock,
    or ``ClockValues.bound``; ``per_row``, ``statuses``: see ``implementation_subquery``)."""
    impl = implementation_subquery(clock, per_row=per_row, statuses=statuses)
    implementation = implementation_expr(impl).label("implementation")
    # A lateral subquery has at most the one row of its recommendation (none when it
    # has no commitment): the join needs no condition of its own.
    on = true() if per_row else impl.c.recommendation_id == Recommendation.id
    stmt = sa_select(Recommendation, implementation).outerjoin(impl, on)
    if not filters.include_archived:
        stmt = stmt.where(col(Recommendation.archived_at).is_(None))
    if clock.as_of is not None:
        stmt = stmt.where(
            or_(
                col(Recommendation.source_date).is_(None),
                col(Recommendation.source_date) <= clock.as_of,
            )
        )
    if filters.q:
        stmt = stmt.where(matches(filters.q, col(Recommendation.title), col(Recommendation.text)))
    if filters.provision is not None:
        stmt = stmt.where(_provision_match(key=filters.provision))
    if filters.cluster is not None:
        stmt = stmt.where(_provision_match(cluster=filters.cluster))
    if filters.instrument is not None:
        stmt = stmt.where(_provision_match(instrument=filters.instrument))
    if filters.priority is not None:
        stmt = stmt.where(col(Recommendation.priority) == filters.priority)
    if filters.government_response is not None:
        stmt = stmt.where(col(Recommendation.government_response) == filters.government_response)
    if filters.implementation is not None:
        stmt = stmt.where(implementation_expr(impl) == filters.implementation)
    if filters.ministry_id is not None:
        # The ministry's commitments first (those it leads, then those it supports, each
        # hashed once), then their recommendations: not a probe per recommendation.
        mid = filters.ministry_id
        figures = table_of(CommitmentFigures)
        supported = select(CommitmentSupport.commitment_id).where(
            col(CommitmentSupport.ministry_id) == mid
        )
        by_ministry = (
            select(CommitmentRecommendation.recommendation_id)
            .join(figures, figures.c.commitment_id == col(CommitmentRecommendation.commitment_id))
            .where(or_(figures.c.lead_ministry_id == mid, figures.c.commitment_id.in_(supported)))
        )
        if clock.as_of is not None:
            # A commitment made later did not yet tie the ministry to the recommendation.
            by_ministry = by_ministry.where(figures.c.committed_on <= clock.as_of)
        stmt = stmt.where(col(Recommendation.id).in_(by_ministry))
    return stmt


def list_recommendations(
    session: Session, *, clock: Clock, filters: RecommendationFilters, page: PageRequest
) -> tuple[list[RecommendationWithImplementation], str | None]:
    stmt = select_with_implementation(clock, filters)
    rows, next_cursor = paginate_rows(
        session, stmt, page=page, sort_columns=SORTS, id_column=col(Recommendation.id)
    )
    return [RecommendationWithImplementation(row[0], row[1]) for row in rows], next_cursor


def get_with_implementation(
    session: Session, recommendation_id: int, clock: Clock
) -> RecommendationWithImplementation | None:
    stmt = select_with_implementation(clock, RecommendationFilters(include_archived=True))
    row = session.execute(stmt.where(col(Recommendation.id) == recommendation_id)).first()
    return None if row is None else RecommendationWithImplementation(row[0], row[1])


def provisions_of(
    session: Session, recommendation_ids: Iterable[int]
) -> dict[int, list[tuple[str, int | None]]]:
    """(provision key, cluster) per recommendation."""
    ids = list(recommendation_ids)
    out: dict[int, list[tuple[str, int | None]]] = {i: [] for i in ids}
    if not ids:
        return out
    stmt = (
        select(RecommendationProvision.recommendation_id, Provision.key, Provision.cluster)
        .join(Provision, col(Provision.key) == col(RecommendationProvision.provision_key))
        .where(col(RecommendationProvision.recommendation_id).in_(ids))
        .order_by(col(Provision.key))
    )
    for rid, key, cluster in session.execute(stmt).all():
        out[rid].append((key, cluster))
    return out


def set_provisions(session: Session, recommendation_id: int, keys: Iterable[str]) -> None:
    session.execute(
        delete(RecommendationProvision).where(
            col(RecommendationProvision.recommendation_id) == recommendation_id
        )
    )
    for key in sorted(set(keys)):
        session.add(RecommendationProvision(recommendation_id=recommendation_id, provision_key=key))
    session.flush()
