"""commitment_timeline_day and timeline_day: the timeline's moves (updates posted,
completed, closed after due, due) per commitment and day, and their sum per day, so
the timeline reads a row per day and commitment it counts (or per day) instead of
grouping every update and span at every request. Backfilled from the history.

Revision ID: 0012_perf
Revises: 0011_chain
Create Date: 2026-12-03 06:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_perf"
down_revision: str | None = "0011_chain"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The same rows the reporting service keeps (commitments.timeline_days.moves_query).
DAY = {
    "postgresql": "date(timezone('UTC', {}))",
    "sqlite": "date({})",
}
LATEST = {"postgresql": "greatest", "sqlite": "max"}
DAY_AFTER = {"postgresql": "({} + 1)", "sqlite": "date({}, '+1 day')"}


def backfill(dialect: str) -> list[str]:
    day, latest = DAY[dialect].format, LATEST[dialect]
    due_from = f"{latest}(c.committed_on, {DAY_AFTER[dialect].format('c.due_date')})"
    completed_from = f"{latest}({day('s.reported_at')}, c.committed_on)"
    closed_due_from = f"{latest}({day('s.reported_at')}, {due_from})"
    until = day("s.until")
    spans = "commitment_closed_span s JOIN commitment c ON c.id = s.commitment_id"
    return [
        "INSERT INTO commitment_timeline_day "
        "(commitment_id, day, updates, completed, closed_due, due) "
        "SELECT commitment_id, day, sum(updates), sum(completed), sum(closed_due), sum(due) "
        "FROM ("
        f"SELECT commitment_id, {day('reported_at')} AS day, "
        "1 AS updates, 0 AS completed, 0 AS closed_due, 0 AS due FROM status_update "
        f"UNION ALL SELECT s.commitment_id, {completed_from}, 0, 1, 0, 0 FROM {spans} "
        "WHERE s.status = 'completed' "
        f"UNION ALL SELECT s.commitment_id, {latest}({completed_from}, {until}), 0, -1, 0, 0 "
        f"FROM {spans} WHERE s.status = 'completed' AND s.until IS NOT NULL "
        f"UNION ALL SELECT s.commitment_id, {closed_due_from}, 0, 0, 1, 0 FROM {spans} "
        f"UNION ALL SELECT s.commitment_id, {latest}({closed_due_from}, {until}), 0, 0, -1, 0 "
        f"FROM {spans} WHERE s.until IS NOT NULL "
        f"UNION ALL SELECT c.id, {due_from}, 0, 0, 0, 1 FROM commitment c"
        ") moves GROUP BY commitment_id, day",
        "INSERT INTO timeline_day (day, updates, completed, closed_due, due) "
        "SELECT day, sum(updates), sum(completed), sum(closed_due), sum(due) "
        "FROM commitment_timeline_day GROUP BY day",
    ]


MOVES = ("updates", "completed", "closed_due", "due")


def _moves() -> list[sa.Column[int]]:
    return [sa.Column(name, sa.Integer(), nullable=False) for name in MOVES]


def upgrade() -> None:
    op.create_table(
        "commitment_timeline_day",
        sa.Column("day", sa.Date(), nullable=False),
        *_moves(),
        sa.Column("commitment_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["commitment_id"],
            ["commitment.id"],
            name=op.f("fk_commitment_timeline_day_commitment_id_commitment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("commitment_id", "day", name=op.f("pk_commitment_timeline_day")),
    )
    op.create_index(
        op.f("ix_commitment_timeline_day_moves"),
        "commitment_timeline_day",
        ["commitment_id", "day", *MOVES],
    )
    op.create_table(
        "timeline_day",
        sa.Column("day", sa.Date(), nullable=False),
        *_moves(),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_timeline_day")),
    )
    for statement in backfill(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("timeline_day")
    op.drop_index(op.f("ix_commitment_timeline_day_moves"), table_name="commitment_timeline_day")
    op.drop_table("commitment_timeline_day")
