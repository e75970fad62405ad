"""commitment_closed_span: the spans during which each commitment's current update
had a closed status, so the timeline reads those few rows instead of a window over
every update at every request. Backfilled from the history.

Revision ID: 0005_perf
Revises: 0004_sec
Create Date: 2026-12-02 04:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_perf"
down_revision: str | None = "0004_sec"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The same rows the reporting service keeps (commitments.repository.refresh_spans).
BACKFILL = """
INSERT INTO commitment_closed_span (update_id, commitment_id, status, reported_at, until)
SELECT id, commitment_id, status, reported_at, until FROM (
    SELECT id, commitment_id, status, reported_at,
           LEAD(reported_at) OVER (
               PARTITION BY commitment_id ORDER BY reported_at, id) AS until
    FROM status_update
) spans
WHERE status IN ('completed', 'cancelled')
"""


def upgrade() -> None:
    op.create_table(
        "commitment_closed_span",
        sa.Column("update_id", sa.Integer(), nullable=False),
        sa.Column("commitment_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["update_id"],
            ["status_update.id"],
            name=op.f("fk_commitment_closed_span_update_id_status_update"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["commitment_id"],
            ["commitment.id"],
            name=op.f("fk_commitment_closed_span_commitment_id_commitment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("update_id", name=op.f("pk_commitment_closed_span")),
    )
    op.create_index(
        op.f("ix_commitment_closed_span_commitment_id"),
        "commitment_closed_span",
        ["commitment_id"],
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_index(
        op.f("ix_commitment_closed_span_commitment_id"), table_name="commitment_closed_span"
    )
    op.drop_table("commitment_closed_span")
