"""commitment_latest: each commitment's newest status update and assessment, so
figures "as of now" read one row per commitment. Backfilled from the history.
Also an index for each ministry's newest update (the scorecard).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 05:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL = """
INSERT INTO commitment_latest
    (commitment_id, update_id, reported_at, status, progress_percent,
     assessment_id, assessed_at, verdict)
SELECT c.id, su.id, su.reported_at, su.status, su.progress_percent,
       a.id, a.assessed_at, a.verdict
FROM commitment c
LEFT JOIN status_update su ON su.id = (
    SELECT s.id FROM status_update s WHERE s.commitment_id = c.id
    ORDER BY s.reported_at DESC, s.id DESC LIMIT 1)
LEFT JOIN assessment a ON a.id = (
    SELECT x.id FROM assessment x WHERE x.commitment_id = c.id
    ORDER BY x.assessed_at DESC, x.id DESC LIMIT 1)
WHERE su.id IS NOT NULL OR a.id IS NOT NULL
"""


def upgrade() -> None:
    op.create_table(
        "commitment_latest",
        sa.Column("commitment_id", sa.Integer(), nullable=False),
        sa.Column("update_id", sa.Integer(), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("progress_percent", sa.Integer(), nullable=True),
        sa.Column("assessment_id", sa.Integer(), nullable=True),
        sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verdict", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["commitment_id"],
            ["commitment.id"],
            name=op.f("fk_commitment_latest_commitment_id_commitment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("commitment_id", name=op.f("pk_commitment_latest")),
    )
    op.execute(BACKFILL)
    op.create_index(
        "ix_status_update_ministry_reported", "status_update", ["ministry_id", "reported_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_status_update_ministry_reported", table_name="status_update")
    op.drop_table("commitment_latest")
