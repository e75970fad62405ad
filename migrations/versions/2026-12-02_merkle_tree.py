"""merkle_node: the complete subtrees of the RFC 9162 Merkle tree over audit_event,
so inclusion and consistency proofs read O(log n) rows. Built for existing events.

Revision ID: 0004_tlog
Revises: 0003
Create Date: 2026-12-02 04:30:00
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_tlog"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000


def upgrade() -> None:
    node = op.create_table(
        "merkle_node",
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_merkle_node")),
    )
    # Frozen here rather than imported, so this revision keeps building the same tree.
    bind = op.get_bind()
    events = bind.execute(sa.text("SELECT hash FROM audit_event ORDER BY seq")).scalars().all()
    pending: dict[int, bytes] = {}  # the left subtree at each level awaiting its sibling
    rows: list[dict[str, object]] = []
    for index, event_hash in enumerate(events):
        current = hashlib.sha256(b"\x00" + bytes.fromhex(event_hash)).digest()
        rows.append({"level": 0, "idx": index, "hash": current})
        level = 0
        while index >> level & 1:
            current = hashlib.sha256(b"\x01" + pending[level] + current).digest()
            level += 1
            rows.append({"level": level, "idx": index >> level, "hash": current})
        pending[level] = current
        if len(rows) >= BATCH:
            op.bulk_insert(node, rows)
            rows = []
    if rows:
        op.bulk_insert(node, rows)


def downgrade() -> None:
    op.drop_table("merkle_node")
