"""commitment_figures: one narrow row per non-archived commitment with what every
progress figure reads (lead ministry, dates, the bit masks of its recommendations'
provisions' clusters and instruments, the newest update's and assessment's fields),
so a figure aggregates one table instead of joining the commitments to their newest
records and their (commitment, provision) pairs per request. Backfilled from the
records.

Revision ID: 0010_perf
Revises: 0009_perf
Create Date: 2026-12-03 06:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_perf"
down_revision: str | None = "0009_perf"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The bits of kernel.figures.bits(): one per bucket in order, the last for a value
# outside the vocabulary (none for NULL).
CLUSTERS = (1, 2, 3, 4)
INSTRUMENTS = ("untoc", "trafficking_protocol", "smuggling_protocol", "firearms_protocol")


def _mask(column: str, buckets: Sequence[object]) -> str:
    parts = [
        f"MAX(CASE WHEN {column} = {b!r} THEN {1 << n} ELSE 0 END)" for n, b in enumerate(buckets)
    ]
    known = ", ".join(repr(b) for b in buckets)
    parts.append(
        f"MAX(CASE WHEN {column} IS NOT NULL AND {column} NOT IN ({known}) "
        f"THEN {1 << len(buckets)} ELSE 0 END)"
    )
    return " + ".join(parts)


# The same rows kernel.figures.refresh writes.
BACKFILL = f"""
INSERT INTO commitment_figures
    (commitment_id, lead_ministry_id, committed_on, due_date, cluster_mask, instrument_mask,
     status, progress_percent, reported_at, verdict, assessed_at)
SELECT c.id, c.lead_ministry_id, c.committed_on, c.due_date,
       COALESCE(m.cluster, 0), COALESCE(m.instrument, 0),
       l.status, l.progress_percent, l.reported_at, l.verdict, l.assessed_at
FROM commitment c
LEFT JOIN commitment_latest l ON l.commitment_id = c.id
LEFT JOIN (
    SELECT cr.commitment_id,
           {_mask("p.cluster", CLUSTERS)} AS cluster,
           {_mask("p.instrument", INSTRUMENTS)} AS instrument
    FROM commitment_recommendation cr
    JOIN recommendation_provision rp ON rp.recommendation_id = cr.recommendation_id
    JOIN provision p ON p.key = rp.provision_key
    GROUP BY cr.commitment_id
) m ON m.commitment_id = c.id
WHERE c.archived_at IS NULL
"""


def upgrade() -> None:
    op.create_table(
        "commitment_figures",
        sa.Column("commitment_id", sa.Integer(), nullable=False),
        sa.Column("lead_ministry_id", sa.Integer(), nullable=False),
        sa.Column("committed_on", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("cluster_mask", sa.Integer(), nullable=False),
        sa.Column("instrument_mask", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("progress_percent", sa.Integer(), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verdict", sa.String(length=32), nullable=True),
        sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["commitment_id"],
            ["commitment.id"],
            name=op.f("fk_commitment_figures_commitment_id_commitment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("commitment_id", name=op.f("pk_commitment_figures")),
    )
    op.execute(BACKFILL)
    if op.get_bind().dialect.name == "postgresql":
        # Its size known at once: before autovacuum comes by, the planner guesses a few
        # thousand rows and plans the spans' join (figures as of a past day) badly.
        op.execute("ANALYZE commitment_figures")


def downgrade() -> None:
    op.drop_table("commitment_figures")
