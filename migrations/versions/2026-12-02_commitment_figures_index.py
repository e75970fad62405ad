"""The figures' scan of the counted commitments reads a narrow covering index
(``ix_commitment_figures``: id, lead ministry, commitment and due dates, archived
time) instead of the wide commitment rows (title, description, indicator):
PostgreSQL answers it with an index-only scan, SQLite with a covering index scan.

Revision ID: 0009_perf
Revises: 0008_perf
Create Date: 2026-12-02 18:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009_perf"
down_revision: str | None = "0008_perf"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ["id", "lead_ministry_id", "committed_on", "due_date", "archived_at"]


def upgrade() -> None:
    op.create_index("ix_commitment_figures", "commitment", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_commitment_figures", table_name="commitment")
