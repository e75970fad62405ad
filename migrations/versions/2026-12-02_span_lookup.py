"""The spans' lookup by commitment covers the columns a past day's figures read
(SQLite then answers each commitment's probe from the index alone: summary as of a
past day at size M 1.29 s -> 0.39 s); it replaces the single-column index.

Revision ID: 0008_perf
Revises: 0007_perf
Create Date: 2026-12-02 14:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008_perf"
down_revision: str | None = "0007_perf"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOOKUPS = {
    "commitment_update_span": (
        "commitment_id",
        "reported_at",
        "until",
        "update_id",
        "status",
        "progress_percent",
    ),
    "commitment_assessment_span": ("commitment_id", "assessed_at", "until", "verdict"),
}


def upgrade() -> None:
    for table, columns in LOOKUPS.items():
        op.create_index(f"ix_{table}_lookup", table, list(columns))
        op.drop_index(f"ix_{table}_commitment_id", table_name=table)


def downgrade() -> None:
    for table in LOOKUPS:
        op.create_index(f"ix_{table}_commitment_id", table, ["commitment_id"])
        op.drop_index(f"ix_{table}_lookup", table_name=table)
