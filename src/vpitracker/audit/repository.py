"""Queries on the audit chain."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Insert,
    Integer,
    and_,
    bindparam,
    cast,
    func,
    insert,
    or_,
    text,
    tuple_,
)
from sqlmodel import Session, col, select

from vpitracker.db import Bound, Call, is_postgres
from vpitracker.models import Assessment, AuditEvent, MerkleNode, StatusUpdate, table_of

# Any fixed 64-bit number: the advisory lock that serializes chain appends on PostgreSQL.
CHAIN_LOCK_ID = 7_212_026_001


@dataclass(frozen=True)
class LockedHead:
    """What an append reads once it holds the chain lock."""

    head: tuple[int, str] | None  # the newest event's (seq, hash)
    # Stored Merkle nodes by (level, idx): on PostgreSQL the left siblings above level 0
    # that the next leaf closes; empty elsewhere (``leaf_nodes`` reads what it needs).
    nodes: dict[tuple[int, int], bytes]


def lock_head(session: Session) -> LockedHead:
    """Take the chain lock (held to the commit) and read the head.

    PostgreSQL: one round trip, ``audit_chain_head`` (migration 0011_chain): the
    advisory lock, then the head and the siblings, read after the lock is granted.
    SQLite write transactions already began IMMEDIATE: only the head is read.
    """
    if not is_postgres(session):
        return LockedHead(head(session), {})
    seq, head_hash, levels, hashes = session.execute(
        text("SELECT * FROM audit_chain_head(:k)"), {"k": CHAIN_LOCK_ID}
    ).one()
    if seq is None:
        return LockedHead(None, {})
    nodes = {
        (level, (seq >> level) - 1): bytes(h)
        for level, h in zip(levels or [], hashes or [], strict=True)
    }
    return LockedHead((seq, head_hash), nodes)


# The whole append under the chain lock on PostgreSQL (migration 0014_append).
_APPEND = text(
    "SELECT * FROM audit_append(:lock_key, :hash_head, :hash_tail, :actor_type, :actor_id,"
    " :actor_role, :action, :entity_type, :entity_id, :data, CAST(:notice_types AS text[]),"
    " CAST(:notice_kinds AS text[]), :notice_head, :notice_tail, :notice_commitment_id,"
    " :notice_ministry_ids)"
)


def append_call(
    event: AuditEvent, hash_head: str, hash_tail: str, notice: Mapping[str, Any] | None
) -> Call:
    """``audit_append``'s call for ``event`` (its seq, time and hashes still to come).

    ``notice``: the outbox rows' ``notice_*`` values (``outbox.service.append_values``),
    or None when the event notifies no one.
    """
    values = {
        "lock_key": CHAIN_LOCK_ID,
        "hash_head": hash_head,
        "hash_tail": hash_tail,
        **{k: getattr(event, k) for k in _APPEND_COLUMNS},
        **(notice or dict.fromkeys(_NOTICE_VALUES)),
    }
    return _APPEND, values


_NOTICE_VALUES = (
    "notice_types",
    "notice_kinds",
    "notice_head",
    "notice_tail",
    "notice_commitment_id",
    "notice_ministry_ids",
)
_APPEND_COLUMNS = (
    "actor_type",
    "actor_id",
    "actor_role",
    "action",
    "entity_type",
    "entity_id",
    "data",
)


def head(session: Session) -> tuple[int, str] | None:
    """The newest event's (seq, hash): all an append needs, not the event's data."""
    stmt = select(AuditEvent.seq, AuditEvent.hash).order_by(col(AuditEvent.seq).desc()).limit(1)
    row = session.exec(stmt).first()
    return None if row is None else (row[0], row[1])


def list_events(session: Session, *, after_seq: int, limit: int) -> Sequence[AuditEvent]:
    stmt = (
        select(AuditEvent)
        .where(AuditEvent.seq > after_seq)
        .order_by(col(AuditEvent.seq))
        .limit(limit)
    )
    return session.exec(stmt).all()


def iter_events(session: Session, *, batch: int = 2000) -> Iterator[Sequence[AuditEvent]]:
    """Every event in batches of ``batch``, in ``seq`` order (keyset on the primary key)."""
    after = 0
    while True:
        rows = list_events(session, after_seq=after, limit=batch)
        if not rows:
            return
        yield rows
        after = rows[-1].seq


def status_updates_by_id(session: Session, ids: list[int]) -> dict[int, StatusUpdate]:
    if not ids:
        return {}
    rows = session.exec(select(StatusUpdate).where(col(StatusUpdate.id).in_(ids))).all()
    return {r.id: r for r in rows if r.id is not None}


def assessments_by_id(session: Session, ids: list[int]) -> dict[int, Assessment]:
    if not ids:
        return {}
    rows = session.exec(select(Assessment).where(col(Assessment.id).in_(ids))).all()
    return {r.id: r for r in rows if r.id is not None}


def count_rows(session: Session, model: type[StatusUpdate] | type[Assessment]) -> int:
    return int(session.exec(select(func.count()).select_from(model)).one())


def row_ids(session: Session, model: type[StatusUpdate] | type[Assessment]) -> Iterator[int]:
    """Every id of the table, ascending, streamed."""
    stmt = select(col(model.id)).order_by(col(model.id)).execution_options(yield_per=5000)
    for row_id in session.exec(stmt):
        if row_id is not None:
            yield row_id


def _postings(entity_type: str, actions: tuple[str, ...]) -> ColumnElement[bool]:
    return and_(
        col(AuditEvent.entity_type) == entity_type,
        or_(*(col(AuditEvent.action).endswith(a) for a in actions)),
    )


def posted_ids(session: Session, entity_type: str, actions: tuple[str, ...]) -> Iterator[int]:
    """The ids the events of ``entity_type`` ending in one of ``actions`` name, ascending."""
    entity_id = cast(AuditEvent.entity_id, Integer)
    stmt = (
        select(entity_id)
        .where(_postings(entity_type, actions))
        .order_by(entity_id)
        .execution_options(yield_per=5000)
    )
    for (row_id,) in session.execute(stmt):
        yield int(row_id)


def first_posting_above(
    session: Session, entity_type: str, actions: tuple[str, ...], row_id: int
) -> int | None:
    """The lowest seq of such an event naming an id above ``row_id``."""
    stmt = select(func.min(AuditEvent.seq)).where(
        _postings(entity_type, actions), cast(AuditEvent.entity_id, Integer) > row_id
    )
    seq = session.execute(stmt).scalar_one()
    return None if seq is None else int(seq)


# Sign-in failures are security events, not changes to records: the feed skips them.
NOT_CHANGES = ("user.login_failed",)


def changes_after(
    session: Session,
    *,
    after_seq: int,
    limit: int,
    up_to_seq: int | None = None,
    entity_types: Collection[str] | None = None,
) -> Sequence[AuditEvent]:
    stmt = select(AuditEvent).where(
        AuditEvent.seq > after_seq, col(AuditEvent.action).not_in(NOT_CHANGES)
    )
    if up_to_seq is not None:
        stmt = stmt.where(AuditEvent.seq <= up_to_seq)
    if entity_types is not None:
        stmt = stmt.where(col(AuditEvent.entity_type).in_(sorted(entity_types)))
    return session.exec(stmt.order_by(col(AuditEvent.seq)).limit(limit)).all()


def head_seq(session: Session) -> int:
    return int(session.exec(select(func.coalesce(func.max(AuditEvent.seq), 0))).one())


def merkle_nodes(session: Session, keys: set[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    if not keys:
        return {}
    stmt = select(MerkleNode.level, MerkleNode.idx, MerkleNode.hash).where(
        tuple_(col(MerkleNode.level), col(MerkleNode.idx)).in_(sorted(keys))
    )
    return {(level, idx): bytes(h) for level, idx, h in session.exec(stmt).all()}


def merkle_insert(rows: Sequence[tuple[int, int, bytes]]) -> Insert:
    """One multi-row INSERT of tree nodes (a single round trip, not an executemany)."""
    return insert(MerkleNode).values(
        [{"level": level, "idx": idx, "hash": h} for level, idx, h in rows]
    )


@cache
def _merkle_write(_dialect: str, prefix: str) -> Insert:
    nodes = table_of(MerkleNode)
    return insert(nodes).values({c: bindparam(prefix + c, type_=nodes.c[c].type) for c in _NODE})


_NODE = ("level", "idx", "hash")


def merkle_rows(rows: Sequence[tuple[int, int, bytes]]) -> list[Bound]:
    """One single-row INSERT per tree node, for ``write_together``.

    A multi-row VALUES has no compiled-cache key, so SQLAlchemy compiles it (and any
    statement it is part of) again on every call; single-row INSERTs are compiled once
    per shape, and the append's one statement with them.
    """
    return [Bound(_merkle_write, dict(zip(_NODE, row, strict=True))) for row in rows]


def add_merkle_nodes(session: Session, rows: list[tuple[int, int, bytes]]) -> None:
    session.execute(merkle_insert(rows))


@cache
def _event_write(_dialect: str, prefix: str) -> Insert:
    events = table_of(AuditEvent)
    return insert(events).values({c.key: bindparam(prefix + c.key, type_=c.type) for c in events.c})


def event_insert(event: AuditEvent) -> Bound:
    return Bound(_event_write, {c.key: getattr(event, c.key) for c in table_of(AuditEvent).c})


def event(session: Session, seq: int) -> AuditEvent | None:
    return session.get(AuditEvent, seq)
