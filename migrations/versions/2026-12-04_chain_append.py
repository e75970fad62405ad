"""audit_append(...): on PostgreSQL, a chain append's whole serial section in one call.

The transaction-level advisory lock (the chain lock), the head's read, the event's time
(``clock_timestamp()`` after the lock, so seq order and time order agree), its hash,
its Merkle leaf and the complete subtrees it closes, and the inserts of the event, its
nodes and its outbox rows. The caller sends it with the COMMIT in one message
(``audit.service.record_at_commit``), so no client round trip happens while the lock
is held. Nothing changes on SQLite, whose appends stay in Python.

The hash is SHA-256 over the UTF-8 of exactly the text ``audit.service._Unhashed``
hashes: prev_hash, the canonical payload up to ``"at":``, the quoted time, the rest up
to ``"seq":``, the seq and ``}`` (the two canonical parts are made by the caller before
the lock). The time is written as ``jsonutil.iso_z`` writes it (``audit_iso_z``: UTC, six
digits of microseconds, ``Z``). The tree follows ``audit/merkle.py``: leaf = SHA-256(0x00 || event
hash), node = SHA-256(0x01 || left || right). An outbox row's body is the caller's
canonical text with the hash, seq, time and type written in (``outbox.Notice.body``).

Each statement of a volatile PL/pgSQL function takes its own snapshot under READ
COMMITTED, so the reads after the lock see every append committed before it was
granted (as ``audit_chain_head``, which the immediate path keeps using).

Revision ID: 0014_append
Revises: 0013_perf
Create Date: 2026-12-04 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014_append"
down_revision: str | None = "0013_perf"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SIGNATURE = (
    "audit_append(bigint, text, text, varchar, integer, varchar, varchar, varchar, varchar,"
    " text, text[], text[], text, text, integer, text)"
)

# Leaf index i closes one subtree per trailing one bit of i: at level L its left sibling
# is the node (L, (i >> L) - 1), at level 0 the previous event's leaf.
# ``jsonutil.iso_z``: UTC whatever the session's TimeZone, always six digits of microseconds.
ISO_Z = """
CREATE FUNCTION audit_iso_z(at timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$
"""

FUNCTION = """
CREATE FUNCTION audit_append(
    lock_key bigint,
    hash_head text,
    hash_tail text,
    p_actor_type varchar,
    p_actor_id integer,
    p_actor_role varchar,
    p_action varchar,
    p_entity_type varchar,
    p_entity_id varchar,
    p_data text,
    notice_types text[],
    notice_kinds text[],
    notice_head text,
    notice_tail text,
    notice_commitment_id integer,
    notice_ministry_ids text
)
RETURNS TABLE (event_seq integer, event_hash varchar, event_at timestamptz)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    previous varchar;
    at_text text;
    leaf integer;
    lvl integer := 0;
    current_node bytea;
    sibling bytea;
    i integer;
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    SELECT e.seq + 1, e.hash INTO event_seq, previous
      FROM audit_event AS e ORDER BY e.seq DESC LIMIT 1;
    IF event_seq IS NULL THEN
        event_seq := 1;
        previous := repeat('0', 64);
    END IF;
    event_at := clock_timestamp();
    at_text := audit_iso_z(event_at);
    event_hash := encode(sha256(convert_to(
        previous || hash_head || '"' || at_text || '"' || hash_tail || event_seq || '}',
        'UTF8')), 'hex');
    INSERT INTO audit_event (seq, at, actor_type, actor_id, actor_role, action,
                             entity_type, entity_id, data, prev_hash, hash)
    VALUES (event_seq, event_at, p_actor_type, p_actor_id, p_actor_role, p_action,
            p_entity_type, p_entity_id, p_data, previous, event_hash);
    leaf := event_seq - 1;
    current_node := sha256(decode('00', 'hex') || decode(event_hash, 'hex'));
    INSERT INTO merkle_node (level, idx, hash) VALUES (0, leaf, current_node);
    WHILE ((leaf >> lvl) & 1) = 1 LOOP
        IF lvl = 0 THEN
            sibling := sha256(decode('00', 'hex') || decode(previous, 'hex'));
        ELSE
            SELECT m.hash INTO sibling FROM merkle_node AS m
             WHERE m.level = lvl AND m.idx = (leaf >> lvl) - 1;
            IF sibling IS NULL THEN
                RAISE EXCEPTION 'audit Merkle node (%, %) is missing', lvl, (leaf >> lvl) - 1;
            END IF;
        END IF;
        current_node := sha256(decode('01', 'hex') || sibling || current_node);
        lvl := lvl + 1;
        INSERT INTO merkle_node (level, idx, hash) VALUES (lvl, leaf >> lvl, current_node);
    END LOOP;
    -- One row per type, in order, so their ids follow it (the order of delivery).
    FOR i IN 1 .. coalesce(array_length(notice_types, 1), 0) LOOP
        INSERT INTO outbox_event (type, audit_seq, commitment_id, ministry_ids,
                                  subscription_id, body, created_at)
        VALUES (notice_types[i], event_seq, notice_commitment_id, notice_ministry_ids, NULL,
                '{"data":' || notice_head || '"' || event_hash || '"' || notice_tail
                || event_seq || '},"timestamp":"' || at_text || '","type":'
                || notice_kinds[i] || '}',
                event_at);
    END LOOP;
    RETURN NEXT;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(ISO_Z)
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION {SIGNATURE}")
        op.execute("DROP FUNCTION audit_iso_z(timestamptz)")
