"""Report queries: one statement per report, its lists joined by the database.

Each report is a single SELECT whose rows are already the report's rows, so the
server can stream them from a cursor without holding the report in memory, and
one statement means one consistent snapshot without a long transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from typing import cast as typed

from sqlalchemy import (
    BindParameter,
    Column,
    ColumnElement,
    FromClause,
    Select,
    Subquery,
    Text,
    cast,
    func,
    literal,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.elements import KeyedColumnElement

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

# Each report's columns, in order: its row model in schemas.py, as the database gives them.
CommitmentReportSelect = Select[
    int, str, str, str, str, str, str, date, date, str, int, datetime | None, str, bool, bool, bool
]
RecommendationReportSelect = Select[
    int, str, str, str, date | None, str, str, str, str, str, str, str
]
# The last column: the evidence URLs joined (a ``dialect`` given), else the evidence itself.
StatusHistorySelect = Select[int, int, str, str, str, int, str, int, datetime, int | None, Any]
# Columns, the names of lists among them; a list's joins (what to join, on what).
Columns = list[ColumnElement[Any] | str]
Joins = list[tuple[FromClause, ColumnElement[bool]]]


@dataclass(frozen=True)
class Listed:
    """A list column: ``items`` selects (owner, value, sort); joined with ``; ``."""

    name: str
    items: Select[int, Any, Any]


def _with_lists(
    within: FromClause,
    owner: KeyedColumnElement[Any],
    columns: Columns,
    lists: list[Listed],
    dialect: str,
    *,
    per_row: bool = False,
) -> tuple[list[ColumnElement[Any]], Joins]:
    """Columns with each list in place of its name (``''`` when empty), and the joins.

    PostgreSQL aggregates each list once over the whole link table (a hash
    aggregate) and joins it: no work per report row, but no row before all lists are
    built; ``per_row``, it aggregates each row's list through the link table's index
    instead, so rows stream in order as they come. SQLite aggregates per row
    through the link table's index, feeding group_concat from an ordered
    subquery (it has no ORDER BY inside an aggregate before 3.44; an ordered
    subquery under an aggregate is never flattened, so the order holds).
    """
    joins: Joins = []
    by_name: dict[str, ColumnElement[Any]] = {}
    for listed in lists:
        if dialect == "postgresql" and per_row:
            items = (
                listed.items.where(listed.items.selected_columns.owner == owner)
                .correlate(within)
                .subquery(f"{listed.name}_items")
            )
            joined = func.string_agg(
                items.c.value, aggregate_order_by(literal(LIST_SEPARATOR), items.c.sort)
            )
            by_name[listed.name] = func.coalesce(select(joined).scalar_subquery(), "").label(
                listed.name
            )
        elif dialect == "postgresql":
            items = listed.items.subquery(f"{listed.name}_items")
            grouped = (
                select(
                    items.c.owner,
                    func.string_agg(
                        items.c.value, aggregate_order_by(literal(LIST_SEPARATOR), items.c.sort)
                    ).label("joined"),
                )
                .group_by(items.c.owner)
                .subquery(f"{listed.name}_lists")
            )
            joins.append((grouped, grouped.c.owner == owner))
            # An owner with no items has no row to join: an empty list, as text.
            by_name[listed.name] = func.coalesce(grouped.c.joined, "").label(listed.name)
        else:
            items = (
                listed.items.where(listed.items.selected_columns.owner == owner)
                .order_by(listed.items.selected_columns.sort)
                .correlate(within)
                .subquery(f"{listed.name}_items")
            )
            agg: ColumnElement[Any] = func.group_concat(items.c.value, LIST_SEPARATOR)
            by_name[listed.name] = func.coalesce(select(agg).scalar_subquery(), "").label(
                listed.name
            )
    return [by_name[c] if isinstance(c, str) else c for c in columns], joins


def _in_place(columns: Columns, by_name: dict[str, ColumnElement[str]]) -> Columns:
    """``columns`` with the lists ``by_name`` gives in place (other lists' names kept)."""
    return [by_name[c].label(c) if isinstance(c, str) and c in by_name else c for c in columns]


def _list_per_row(
    within: FromClause,
    owner: KeyedColumnElement[Any],
    link_owner: Column[int],
    link_key: Column[int],
    target_key: Column[int],
    value: Column[str],
) -> ColumnElement[str]:
    """The owner's linked values, sorted and joined (``''`` when none), read per row.

    Each value is a scalar lookup by primary key, so PostgreSQL reads it through the
    index; a join inside the subquery was planned as a scan of the whole target
    table for every row.
    """
    looked_up = (
        select(value).where(target_key == link_key).correlate(link_key.table).scalar_subquery()
    )
    items = (
        select(looked_up.label("value"))
        .where(link_owner == owner)
        .correlate(within)
        .subquery("items")
    )
    joined = func.string_agg(
        items.c.value, aggregate_order_by(literal(LIST_SEPARATOR), items.c.value)
    )
    return func.coalesce(select(joined).scalar_subquery(), "")


def _select(
    columns: list[ColumnElement[Any]], base: FromClause, joins: Joins
) -> Select[*tuple[Any, ...]]:
    stmt = select(*columns).select_from(base)
    for target, on in joins:
        stmt = stmt.outerjoin(target, on)
    return stmt


def commitments(counted: Subquery, dialect: str) -> CommitmentReportSelect:
    """The commitments report: ``counted`` (commitments with derived state) and names."""
    m, cs, cr = table_of(Ministry), table_of(CommitmentSupport), table_of(CommitmentRecommendation)
    r = table_of(Recommendation)
    lead = m.alias("lead")
    supporting = Listed(
        "supporting_ministry_codes",
        select(cs.c.commitment_id.label("owner"), m.c.code.label("value"), m.c.code.label("sort"))
        .select_from(cs)
        .join(m, m.c.id == cs.c.ministry_id),
    )
    recommendations = Listed(
        "recommendation_codes",
        select(cr.c.commitment_id.label("owner"), r.c.code.label("value"), r.c.code.label("sort"))
        .select_from(cr)
        .join(r, r.c.id == cr.c.recommendation_id),
    )
    wanted = _commitment_columns(counted, lead)
    listed = [supporting, recommendations]
    by_name: dict[str, ColumnElement[str]] = {}
    if dialect == "postgresql":
        # Per row, so rows come in ``code`` order from its index as soon as the first is
        # ready (a streamed report's first byte); joined lists would be built whole first.
        by_name = {
            "supporting_ministry_codes": _list_per_row(
                counted, counted.c.id, cs.c.commitment_id, cs.c.ministry_id, m.c.id, m.c.code
            ),
            "recommendation_codes": _list_per_row(
                counted, counted.c.id, cr.c.commitment_id, cr.c.recommendation_id, r.c.id, r.c.code
            ),
        }
        listed = []
    columns, joins = _with_lists(
        counted,
        counted.c.id,
        _in_place(wanted, by_name) if dialect == "postgresql" else wanted,
        listed,
        dialect,
    )
    base = counted.join(lead, lead.c.id == counted.c.lead_ministry_id)
    stmt = _select(columns, base, joins).order_by(counted.c.code, counted.c.id)
    return typed(CommitmentReportSelect, stmt)


def _commitment_columns(counted: Subquery, lead: FromClause) -> Columns:
    return [
        counted.c.id,
        counted.c.code,
        counted.c.title,
        lead.c.code.label("lead_ministry_code"),
        lead.c.name.label("lead_ministry_name"),
        "supporting_ministry_codes",
        "recommendation_codes",
        counted.c.committed_on,
        counted.c.due_date,
        counted.c.reported_status,
        counted.c.progress_percent,
        counted.c.last_reported_at,
        counted.c.verdict,
        counted.c.contested,
        counted.c.overdue,
        counted.c.stale,
    ]


def recommendations(
    recs: Subquery,
    commitments_then: Select[*tuple[Any, ...]],
    dialect: str,
    *,
    per_row: bool = False,
) -> RecommendationReportSelect:
    """The recommendations report: ``recs`` (with implementation) and their links.

    ``commitments_then`` selects the commitments counted at the report's date; the
    ``commitments`` column lists only those. ``per_row`` (PostgreSQL, with ``recs``
    counted per row): every list read per row too, so rows stream in ``code`` order
    from its index; else each list is aggregated once and joined (cheaper for the
    whole report, but no row before all are built).
    """
    rp, p = table_of(RecommendationProvision), table_of(Provision)
    cr, c = table_of(CommitmentRecommendation), table_of(Commitment)

    def provisions(
        name: str, value: ColumnElement[str], sort: ColumnElement[str], *, distinct: bool
    ) -> Listed:
        items = (
            select(rp.c.recommendation_id.label("owner"), value.label("value"), sort.label("sort"))
            .select_from(rp)
            .join(p, p.c.key == rp.c.provision_key)
            .where(value.is_not(None))
        )
        return Listed(name, items.distinct() if distinct else items)

    # The counted commitments' own conditions, applied in the join: an IN (subquery)
    # here is evaluated again for every recommendation on SQLite.
    counted = commitments_then.whereclause
    linked_items = (
        select(
            cr.c.recommendation_id.label("owner"), c.c.code.label("value"), c.c.code.label("sort")
        )
        .select_from(cr)
        .join(c, c.c.id == cr.c.commitment_id)
    )
    linked = Listed("commitments", linked_items if counted is None else linked_items.where(counted))
    listed = [
        provisions("provision_keys", p.c.key, p.c.key, distinct=False),
        provisions("clusters", cast(p.c.cluster, Text), p.c.cluster, distinct=True),
        provisions("instruments", p.c.instrument, p.c.instrument, distinct=True),
        linked,
    ]
    by_name: dict[str, ColumnElement[str]] = {}
    lateral: Joins = []
    if dialect == "postgresql" and per_row:
        # Per row, so rows come in ``code`` order from its index as soon as the first is
        # ready (a streamed report's first byte), as ``recs`` counts its implementation;
        # the three provision lists from one pass over the row's provisions.
        prov = _provision_lists(recs.c.id)
        by_name = {name: func.coalesce(prov.c[name], "") for name in prov.c.keys()}
        lateral = [(prov, true())]
        listed = [linked]
    columns, joins = _with_lists(
        recs,
        recs.c.id,
        _in_place(
            [
                recs.c.id,
                recs.c.code,
                recs.c.title,
                recs.c.source,
                recs.c.source_date,
                recs.c.priority,
                recs.c.government_response,
                "provision_keys",
                "clusters",
                "instruments",
                "commitments",
                recs.c.implementation,
            ],
            by_name,
        ),
        listed,
        dialect,
        per_row=per_row,
    )
    stmt = _select(columns, recs, lateral + joins).order_by(recs.c.code, recs.c.id)
    return typed(RecommendationReportSelect, stmt)


def _provision_lists(owner: KeyedColumnElement[int]) -> FromClause:
    """PostgreSQL: one recommendation's provision keys, clusters and instruments, each
    sorted and joined (NULL when none), from one LATERAL pass over its provisions."""
    rp, p = table_of(RecommendationProvision), table_of(Provision)
    sep = literal(LIST_SEPARATOR)
    # Clusters distinct and sorted as numbers, then written as text.
    clusters = func.array_to_string(
        func.array_agg(aggregate_order_by(p.c.cluster.distinct(), p.c.cluster)), sep, type_=Text
    )
    return (
        select(
            func.string_agg(p.c.key, aggregate_order_by(sep, p.c.key)).label("provision_keys"),
            clusters.label("clusters"),
            func.string_agg(
                p.c.instrument.distinct(), aggregate_order_by(sep, p.c.instrument)
            ).label("instruments"),
        )
        .select_from(rp)
        .join(p, p.c.key == rp.c.provision_key)
        .where(rp.c.recommendation_id == owner)
        .lateral("provision_lists")
    )


def _evidence_urls(evidence: ColumnElement[Any], dialect: str) -> ColumnElement[str]:
    """The evidence items' URLs in order, joined (``''`` when none)."""
    joined: ColumnElement[Any]
    if dialect == "sqlite":
        each = func.json_each(evidence).table_valued("key", "value", name="item")
        # In array order: group_concat over an ordered subquery (see _with_lists).
        items = (
            select(func.coalesce(func.json_extract(each.c.value, "$.url"), "").label("url"))
            .select_from(each)
            .order_by(each.c.key)
            .subquery("urls")
        )
        joined = select(func.group_concat(items.c.url, LIST_SEPARATOR)).scalar_subquery()
    else:
        item = (
            func.json_array_elements(evidence)
            .table_valued("value", with_ordinality="n")
            .render_derived(name="item")
        )
        url = func.coalesce(item.c.value.op("->>")(literal("url", Text)), "")
        joined = (
            select(func.string_agg(url, aggregate_order_by(literal(LIST_SEPARATOR), item.c.n)))
            .select_from(item)
            .scalar_subquery()
        )
    return func.coalesce(joined, "")


def status_history(
    *,
    cutoff: datetime | BindParameter[datetime] | None,
    ministry_id: int | BindParameter[int] | None,
    commitment_id: int | BindParameter[int] | None,
    dialect: str = "",
) -> StatusHistorySelect:
    """The status-history report, oldest first; with a ``dialect`` (PostgreSQL or
    SQLite) the last column is the evidence URLs joined (``evidence_urls``), else the
    evidence itself. Each of ``cutoff``, ``ministry_id``, ``commitment_id`` a value, a
    bound parameter, or None (no condition)."""
    su, c, m = table_of(StatusUpdate), table_of(Commitment), table_of(Ministry)
    evidence = (
        _evidence_urls(su.c.evidence, dialect).label("evidence_urls") if dialect else su.c.evidence
    )
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
            evidence,
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
