"""ministry_timeline_day: the timeline's moves per ministry and day, summed over the
commitments each ministry leads or supports (archived ones too), so the timeline
filtered by a ministry reads a row per day instead of every day row of the
ministry's commitments. Backfilled from commitment_timeline_day.

Revision ID: 0013_perf
Revises: 0012_perf
Create Date: 2026-12-03 15:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_perf"
down_revision: str | None = "0012_perf"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MOVES = ("updates", "completed", "closed_due", "due")

# The same rows commitments.timeline_days.refresh writes (a ministry once per
# commitment, as lead or supporting).
BACKFILL = (
    "INSERT INTO ministry_timeline_day (ministry_id, day, updates, completed, closed_due, due) "
    "SELECT m.ministry_id, r.day, sum(r.updates), sum(r.completed), sum(r.closed_due), "
    "sum(r.due) FROM commitment_timeline_day r JOIN ("
    "SELECT id AS commitment_id, lead_ministry_id AS ministry_id FROM commitment "
    "UNION SELECT commitment_id, ministry_id FROM commitment_support"
    ") m ON m.commitment_id = r.commitment_id GROUP BY m.ministry_id, r.day"
)


def upgrade() -> None:
    op.create_table(
        "ministry_timeline_day",
        sa.Column("day", sa.Date(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in MOVES),
        sa.Column("ministry_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ministry_id"],
            ["ministry.id"],
            name=op.f("fk_ministry_timeline_day_ministry_id_ministry"),
        ),
        sa.PrimaryKeyConstraint("ministry_id", "day", name=op.f("pk_ministry_timeline_day")),
    )
    op.execute(BACKFILL)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ANALYZE ministry_timeline_day")


def downgrade() -> None:
    op.drop_table("ministry_timeline_day")
