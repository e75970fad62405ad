"""update_month: status updates posted per calendar month (UTC), kept with each post,
so the unfiltered timeline reads a row a month instead of grouping every update.
Backfilled from the history.

Revision ID: 0006_perf
Revises: 0005_perf
Create Date: 2026-12-02 08:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_perf"
down_revision: str | None = "0005_perf"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The same rows the reporting service keeps (commitments.repository.refresh_update_months).
MONTH = {
    "postgresql": "to_char(timezone('UTC', reported_at), 'YYYY-MM')",
    "sqlite": "strftime('%Y-%m', reported_at)",
}


def backfill(dialect: str) -> str:
    month = MONTH[dialect]
    return (
        "INSERT INTO update_month (month, updates) "
        f"SELECT {month}, count(*) FROM status_update GROUP BY {month}"
    )


def upgrade() -> None:
    op.create_table(
        "update_month",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("updates", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_update_month")),
    )
    op.execute(backfill(op.get_bind().dialect.name))


def downgrade() -> None:
    op.drop_table("update_month")
