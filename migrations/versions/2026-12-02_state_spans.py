"""commitment_update_span and commitment_assessment_span: the span during which each
status update (assessment) was its commitment's newest, so figures as of a past day
join the one span current then per commitment instead of probing the history once
per commitment. Backfilled from the history.

Revision ID: 0007_perf
Revises: 0006_perf
Create Date: 2026-12-02 13:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_perf"
down_revision: str | None = "0006_perf"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The same rows the reporting service keeps (commitments.repository.refresh_spans).
BACKFILL_UPDATES = """
INSERT INTO commitment_update_span
    (update_id, commitment_id, status, progress_percent, reported_at, until)
SELECT id, commitment_id, status, progress_percent, reported_at,
       LEAD(reported_at) OVER (PARTITION BY commitment_id ORDER BY reported_at, id)
FROM status_update
"""
BACKFILL_ASSESSMENTS = """
INSERT INTO commitment_assessment_span (assessment_id, commitment_id, verdict, assessed_at, until)
SELECT id, commitment_id, verdict, assessed_at,
       LEAD(assessed_at) OVER (PARTITION BY commitment_id ORDER BY assessed_at, id)
FROM assessment
"""


def _span_table(name: str, record: str, record_table: str, *columns: sa.Column[object]) -> None:
    time_column = columns[-1].name
    op.create_table(
        name,
        sa.Column(f"{record}_id", sa.Integer(), nullable=False),
        sa.Column("commitment_id", sa.Integer(), nullable=False),
        *columns,
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            [f"{record}_id"],
            [f"{record_table}.id"],
            name=op.f(f"fk_{name}_{record}_id_{record_table}"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["commitment_id"],
            ["commitment.id"],
            name=op.f(f"fk_{name}_commitment_id_commitment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(f"{record}_id", name=op.f(f"pk_{name}")),
    )
    op.create_index(op.f(f"ix_{name}_commitment_id"), name, ["commitment_id"])
    op.create_index(f"ix_{name}_until", name, ["until", time_column])


def upgrade() -> None:
    _span_table(
        "commitment_update_span",
        "update",
        "status_update",
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("progress_percent", sa.Integer(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
    )
    _span_table(
        "commitment_assessment_span",
        "assessment",
        "assessment",
        sa.Column("verdict", sa.String(length=32), nullable=False),
        sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.execute(BACKFILL_UPDATES)
    op.execute(BACKFILL_ASSESSMENTS)


def downgrade() -> None:
    for name in ("commitment_assessment_span", "commitment_update_span"):
        op.drop_index(f"ix_{name}_until", table_name=name)
        op.drop_index(op.f(f"ix_{name}_commitment_id"), table_name=name)
        op.drop_table(name)
