"""audit_chain_head(lock_key): on PostgreSQL, the chain lock and everything an append
reads under it in one round trip: the transaction-level advisory lock, then the head
event's seq and hash and the stored Merkle siblings the next leaf closes (levels 1 and
up; level 0 is the head's own leaf). Nothing changes on SQLite, whose write
transactions are serial from ``BEGIN IMMEDIATE``.

Each statement of a volatile PL/pgSQL function takes its own snapshot under READ
COMMITTED, so the reads after the lock see every append committed before it was
granted (one statement joining the lock and the reads would not: its snapshot is
taken before the wait). ``audit_event`` stays the only record of the head.

Revision ID: 0011_chain
Revises: 0010_perf
Create Date: 2026-12-03 06:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011_chain"
down_revision: str | None = "0010_perf"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Leaf index i (= the head's seq) closes a subtree at level L + 1 when its low L + 1
# bits are all ones; it then needs the stored node (L, (i >> L) - 1) as left sibling.
FUNCTION = """
CREATE FUNCTION audit_chain_head(lock_key bigint)
RETURNS TABLE (head_seq integer, head_hash varchar, node_levels smallint[], node_hashes bytea[])
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    SELECT e.seq, e.hash INTO head_seq, head_hash
      FROM audit_event AS e ORDER BY e.seq DESC LIMIT 1;
    IF head_seq IS NOT NULL THEN
        SELECT array_agg(m.level ORDER BY m.level), array_agg(m.hash ORDER BY m.level)
          INTO node_levels, node_hashes
          FROM generate_series(1, 30) AS l(n)
          JOIN merkle_node AS m ON m.level = l.n AND m.idx = (head_seq >> l.n) - 1
         WHERE ((head_seq::bigint + 1) & ((1::bigint << (l.n + 1)) - 1)) = 0;
    END IF;
    RETURN NEXT;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_chain_head(bigint)")
