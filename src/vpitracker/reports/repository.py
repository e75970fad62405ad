"""Report queries: one statement per report, its lists joined by the database.

Each report is a single SELECT whose rows are already the report's rows, so the
server can stream them from a cursor without holding the report in memory, and
one statement means one consistent snapshot without a long transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, Text, cast, func, literal, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.selectable import ScalarSelect

from vpitracker.csvout import LIST_SEPARATOR
from vpitracker.models import (
    Commitment,
    CommitmentRecommendation,
    CommitmentSupport,
    Ministry,
    Provision,
    Recommendation,
    RecommendationProvision,
    StatusUpdate,
    table_of,
)


def _joined(inner: Select[Any], dialect: str) -> ScalarSelect[Any]:
    """``inner``'s ``value`` column joined with ``; `` in ``sort`` order (NULL when empty).

    SQLite before 3.44 has no ORDER BY inside an aggregate; it feeds group_concat
    from an ordered subquery in that order (the subquery is never flattened into
    an aggregate query), which is what the PostgreSQL branch states explicitly.
    """
    rows = inner.subquery("items")
    agg: ColumnElement[Any] = (
        func.string_agg(rows.c.value, aggregate_order_by(literal(LIST_SEPARATOR), rows.c.sort))
        if dialect == "postgresql"
        else func.group_concat(rows.c.value, LIST_SEPARATOR)
    )
    return select(agg).select_from(rows).scalar_subquery()


def commitments(counted: Any, dialect: str) -> Select[Any]:
    """The commitments report: ``counted`` (commitments with derived state) and names."""
    m, cs, cr = table_of(Ministry), table_of(CommitmentSupport), table_of(CommitmentRecommendation)
    r = table_of(Recommendation)
    supporting = (
        select(m.c.code.label("value"), m.c.code.label("sort"))
        .select_from(cs)
        .join(m, m.c.id == cs.c.ministry_id)
        .where(cs.c.commitment_id == counted.c.id)
        .order_by(m.c.code)
        .correlate(counted)
    )
    recommendations = (
        select(r.c.code.label("value"), r.c.code.label("sort"))
        .select_from(cr)
        .join(r, r.c.id == cr.c.recommendation_id)
        .where(cr.c.commitment_id == counted.c.id)
        .order_by(r.c.code)
        .correlate(counted)
    )
    lead = m.alias("lead")
    return (
        select(
            counted.c.id,
            counted.c.code,
            counted.c.title,
            lead.c.code.label("lead_ministry_code"),
            lead.c.name.label("lead_ministry_name"),
            _joined(supporting, dialect).label("supporting_ministry_codes"),
            _joined(recommendations, dialect).label("recommendation_codes"),
            counted.c.committed_on,
            counted.c.due_date,
            counted.c.reported_status,
            counted.c.progress_percent,
            counted.c.last_reported_at,
            counted.c.verdict,
            counted.c.contested,
            counted.c.overdue,
            counted.c.stale,
        )
        .join(lead, lead.c.id == counted.c.lead_ministry_id)
        .order_by(counted.c.code, counted.c.id)
    )


def recommendations(recs: Any, commitments_then: Select[Any], dialect: str) -> Select[Any]:
    """The recommendations report: ``recs`` (with implementation) and their links.

    ``commitments_then`` selects the commitments counted at the report's date; the
    ``commitments`` column lists only those.
    """
    rp, p = table_of(RecommendationProvision), table_of(Provision)
    cr, c = table_of(CommitmentRecommendation), table_of(Commitment)

    def provisions(value: Any, *, distinct: bool, sort: Any = None) -> Select[Any]:
        stmt = (
            select(value.label("value"), (sort if sort is not None else value).label("sort"))
            .select_from(rp)
            .join(p, p.c.key == rp.c.provision_key)
            .where(rp.c.recommendation_id == recs.c.id, value.is_not(None))
            .order_by(sort if sort is not None else value)
            .correlate(recs)
        )
        return stmt.distinct() if distinct else stmt

    counted = commitments_then.with_only_columns(c.c.id).scalar_subquery()
    linked = (
        select(c.c.code.label("value"), c.c.code.label("sort"))
        .select_from(cr)
        .join(c, c.c.id == cr.c.commitment_id)
        .where(cr.c.recommendation_id == recs.c.id, c.c.id.in_(counted))
        .order_by(c.c.code)
        .correlate(recs)
    )
    return select(
        recs.c.id,
        recs.c.code,
        recs.c.title,
        recs.c.source,
        recs.c.source_date,
        recs.c.priority,
        recs.c.government_response,
        _joined(provisions(p.c.key, distinct=False), dialect).label("provision_keys"),
        _joined(
            provisions(cast(p.c.cluster, Text), distinct=True, sort=p.c.cluster),
            dialect,
        ).label("clusters"),
        _joined(provisions(p.c.instrument, distinct=True), dialect).label("instruments"),
        _joined(linked, dialect).label("commitments"),
        recs.c.implementation,
    ).order_by(recs.c.code, recs.c.id)


def status_history(
    *,
    cutoff: Any,
    ministry_id: int | None,
    commitment_id: int | None,
) -> Select[Any]:
    su, c, m = table_of(StatusUpdate), table_of(Commitment), table_of(Ministry)
    stmt = (
        select(
            su.c.id,
            su.c.commitment_id,
            c.c.code.label("commitment_code"),
            m.c.code.label("ministry_code"),
            su.c.status,
            su.c.progress_percent,
            su.c.summary,
            su.c.reported_by,
            su.c.reported_at,
            su.c.in_reply_to_assessment_id,
            su.c.evidence,
        )
        .join(c, c.c.id == su.c.commitment_id)
        .join(m, m.c.id == su.c.ministry_id)
        .order_by(su.c.reported_at, su.c.id)
    )
    if cutoff is not None:
        stmt = stmt.where(su.c.reported_at < cutoff)
    if ministry_id is not None:
        stmt = stmt.where(su.c.ministry_id == ministry_id)
    if commitment_id is not None:
        stmt = stmt.where(su.c.commitment_id == commitment_id)
    return stmt
