"""Read-only SQL views for BI tools: report_commitments, report_recommendations,
report_status_history — the same columns as the /v1/reports endpoints, computed at
query time (now, UTC; stale after 90 days).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VIEWS = ("report_status_history", "report_recommendations", "report_commitments")

# Per dialect: the SQL that differs (list aggregation, "today", 90 days ago, JSON).
_POSTGRES = {
    "agg_supporting": (
        "SELECT string_agg(sm.code, '; ' ORDER BY sm.code) FROM commitment_support cs "
        "JOIN ministry sm ON sm.id = cs.ministry_id WHERE cs.commitment_id = c.id"
    ),
    "agg_recs": (
        "SELECT string_agg(r.code, '; ' ORDER BY r.code) FROM commitment_recommendation cr "
        "JOIN recommendation r ON r.id = cr.recommendation_id WHERE cr.commitment_id = c.id"
    ),
    "today": "(now() AT TIME ZONE 'UTC')::date",
    "stale_ts": "(now() - interval '90 days')",
    "stale_date": "((now() AT TIME ZONE 'UTC') - interval '90 days')::date",
    "agg_provisions": (
        "SELECT string_agg(p.key, '; ' ORDER BY p.key) FROM recommendation_provision rp "
        "JOIN provision p ON p.key = rp.provision_key WHERE rp.recommendation_id = r.id"
    ),
    "agg_clusters": (
        "SELECT string_agg(DISTINCT p.cluster::text, '; ') FROM recommendation_provision rp "
        "JOIN provision p ON p.key = rp.provision_key "
        "WHERE rp.recommendation_id = r.id AND p.cluster IS NOT NULL"
    ),
    "agg_instruments": (
        "SELECT string_agg(DISTINCT p.instrument, '; ') FROM recommendation_provision rp "
        "JOIN provision p ON p.key = rp.provision_key WHERE rp.recommendation_id = r.id"
    ),
    "agg_commitments": (
        "SELECT string_agg(rc.code, '; ' ORDER BY rc.code) FROM commitment_recommendation cr "
        "JOIN report_commitments rc ON rc.id = cr.commitment_id WHERE cr.recommendation_id = r.id"
    ),
    "agg_evidence": (
        "SELECT string_agg(e.value ->> 'url', '; ') FROM json_array_elements(su.evidence) AS e"
    ),
}
_SQLITE = {
    "agg_supporting": (
        "SELECT group_concat(code, '; ') FROM (SELECT sm.code FROM commitment_support cs "
        "JOIN ministry sm ON sm.id = cs.ministry_id WHERE cs.commitment_id = c.id "
        "ORDER BY sm.code)"
    ),
    "agg_recs": (
        "SELECT group_concat(code, '; ') FROM (SELECT r.code FROM commitment_recommendation cr "
        "JOIN recommendation r ON r.id = cr.recommendation_id WHERE cr.commitment_id = c.id "
        "ORDER BY r.code)"
    ),
    "today": "date('now')",
    "stale_ts": "strftime('%Y-%m-%d %H:%M:%f000', 'now', '-90 days')",
    "stale_date": "date('now', '-90 days')",
    "agg_provisions": (
        "SELECT group_concat(key, '; ') FROM (SELECT p.key FROM recommendation_provision rp "
        "JOIN provision p ON p.key = rp.provision_key WHERE rp.recommendation_id = r.id "
        "ORDER BY p.key)"
    ),
    "agg_clusters": (
        "SELECT group_concat(cluster, '; ') FROM (SELECT DISTINCT p.cluster FROM "
        "recommendation_provision rp JOIN provision p ON p.key = rp.provision_key "
        "WHERE rp.recommendation_id = r.id AND p.cluster IS NOT NULL ORDER BY p.cluster)"
    ),
    "agg_instruments": (
        "SELECT group_concat(instrument, '; ') FROM (SELECT DISTINCT p.instrument FROM "
        "recommendation_provision rp JOIN provision p ON p.key = rp.provision_key "
        "WHERE rp.recommendation_id = r.id ORDER BY p.instrument)"
    ),
    "agg_commitments": (
        "SELECT group_concat(code, '; ') FROM (SELECT rc.code FROM commitment_recommendation cr "
        "JOIN report_commitments rc ON rc.id = cr.commitment_id "
        "WHERE cr.recommendation_id = r.id ORDER BY rc.code)"
    ),
    "agg_evidence": (
        "SELECT group_concat(json_extract(e.value, '$.url'), '; ') FROM json_each(su.evidence) AS e"
    ),
}

REPORT_COMMITMENTS = """
CREATE VIEW report_commitments AS
SELECT
    c.id,
    c.code,
    c.title,
    m.code AS lead_ministry_code,
    m.name AS lead_ministry_name,
    COALESCE(({agg_supporting}), '') AS supporting_ministry_codes,
    COALESCE(({agg_recs}), '') AS recommendation_codes,
    c.committed_on,
    c.due_date,
    COALESCE(su.status, 'not_started') AS reported_status,
    COALESCE(su.progress_percent, 0) AS progress_percent,
    su.reported_at AS last_reported_at,
    COALESCE(a.verdict, 'unassessed') AS verdict,
    CASE WHEN a.verdict = 'disputes' AND (su.id IS NULL OR su.reported_at <= a.assessed_at)
         THEN TRUE ELSE FALSE END AS contested,
    CASE WHEN c.due_date < {today}
              AND COALESCE(su.status, 'not_started') NOT IN ('completed', 'cancelled')
         THEN TRUE ELSE FALSE END AS overdue,
    CASE WHEN COALESCE(su.status, 'not_started') NOT IN ('completed', 'cancelled')
              AND ((su.id IS NULL AND c.committed_on < {stale_date})
                   OR su.reported_at < {stale_ts})
         THEN TRUE ELSE FALSE END AS stale
FROM commitment c
JOIN ministry m ON m.id = c.lead_ministry_id
LEFT JOIN status_update su ON su.id = (
    SELECT s.id FROM status_update s WHERE s.commitment_id = c.id
    ORDER BY s.reported_at DESC, s.id DESC LIMIT 1)
LEFT JOIN assessment a ON a.id = (
    SELECT x.id FROM assessment x WHERE x.commitment_id = c.id
    ORDER BY x.assessed_at DESC, x.id DESC LIMIT 1)
WHERE c.archived_at IS NULL
"""

REPORT_RECOMMENDATIONS = """
CREATE VIEW report_recommendations AS
SELECT
    r.id,
    r.code,
    r.title,
    r.source,
    r.source_date,
    r.priority,
    r.government_response,
    COALESCE(({agg_provisions}), '') AS provision_keys,
    COALESCE(({agg_clusters}), '') AS clusters,
    COALESCE(({agg_instruments}), '') AS instruments,
    COALESCE(({agg_commitments}), '') AS commitments,
    CASE
        WHEN counts.n IS NULL THEN 'no_commitment'
        WHEN counts.completed = counts.n THEN 'completed'
        WHEN counts.not_started = counts.n THEN 'not_started'
        ELSE 'in_progress'
    END AS implementation
FROM recommendation r
LEFT JOIN (
    SELECT cr.recommendation_id,
           COUNT(*) AS n,
           SUM(CASE WHEN rc.reported_status = 'completed' THEN 1 ELSE 0 END) AS completed,
           SUM(CASE WHEN rc.reported_status = 'not_started' THEN 1 ELSE 0 END) AS not_started
    FROM commitment_recommendation cr
    JOIN report_commitments rc ON rc.id = cr.commitment_id
    GROUP BY cr.recommendation_id
) counts ON counts.recommendation_id = r.id
WHERE r.archived_at IS NULL
"""

REPORT_STATUS_HISTORY = """
CREATE VIEW report_status_history AS
SELECT
    su.id,
    su.commitment_id,
    c.code AS commitment_code,
    m.code AS ministry_code,
    su.status,
    su.progress_percent,
    su.summary,
    su.reported_by,
    su.reported_at,
    su.in_reply_to_assessment_id,
    COALESCE(({agg_evidence}), '') AS evidence_urls
FROM status_update su
JOIN commitment c ON c.id = su.commitment_id
JOIN ministry m ON m.id = su.ministry_id
"""


def upgrade() -> None:
    parts = _POSTGRES if op.get_bind().dialect.name == "postgresql" else _SQLITE
    for sql in (REPORT_COMMITMENTS, REPORT_RECOMMENDATIONS, REPORT_STATUS_HISTORY):
        op.execute(sql.format(**parts))


def downgrade() -> None:
    for name in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {name}")
