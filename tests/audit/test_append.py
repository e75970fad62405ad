"""The chain append's serial section: what runs under the chain lock, and what must not."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.engine.interfaces import CacheStats
from sqlmodel import Session, col, func, select

from tests.audit.independent import sha256
from tests.factories import make_user, pk
from vpitracker import db
from vpitracker.audit import merkle
from vpitracker.audit import service as audit_service
from vpitracker.audit.repository import CHAIN_LOCK_ID
from vpitracker.db import unit_of_work
from vpitracker.jsonutil import canonical, iso_z
from vpitracker.kernel.actor import Actor
from vpitracker.models import AuditEvent, MerkleNode, UpdateMonth
from vpitracker.reporting import service as reporting_service
from vpitracker.reporting.schemas import StatusUpdateCreate
from vpitracker.vocab import EntityType, ReportedStatus, Role

TRICKY: list[dict[str, Any]] = [
    {},
    {"name": 'Wizara — "Interior" \\ ya Ndani', "emoji": "✓ ü 中"},
    {"nested": {"b": [1, 2.5, None, True], "a": {"z": "", "y": "\n\t"}}, "n": -0.0},
    {"big": 2**62, "small": 1e-7, "list": [{"k": "v"}, []]},
]


def _independent(prev_hash: str, e: AuditEvent) -> str:
    """The hash from its definition: SHA-256 of prev_hash and the canonical payload."""
    payload = {
        "seq": e.seq,
        "at": iso_z(e.at),
        "actor": {"type": e.actor_type, "id": e.actor_id, "role": e.actor_role},
        "action": e.action,
        "entity_type": e.entity_type,
        "entity_id": e.entity_id,
        "data": json.loads(e.data),
    }
    return sha256((prev_hash + canonical(payload)).encode("utf-8")).hex()


def test_the_hash_made_before_the_lock_is_the_one_verification_recomputes(
    session: Session,
) -> None:
    user = make_user(session)
    actor = Actor(kind="user", id=pk(user), role=Role.secretariat, email=user.email)
    session.commit()
    setup = len(session.exec(select(AuditEvent)).all())
    for i, data in enumerate(TRICKY):
        for who in (actor, None):
            audit_service.record(
                session, who, "ministry.updated", EntityType.ministry, f"{i}-é", data
            )
    session.commit()
    session.expire_all()
    events = session.exec(select(AuditEvent).order_by(col(AuditEvent.seq))).all()
    assert len(events) == setup + 2 * len(TRICKY)
    prev = audit_service.GENESIS_HASH
    for stored in events:
        assert stored.prev_hash == prev
        assert stored.hash == audit_service.compute_hash(prev, stored)
        assert stored.hash == _independent(prev, stored)
        prev = stored.hash


def _post(engine: Engine, actor: Actor, commitment_id: int, n: int) -> int:
    body = StatusUpdateCreate(
        status=ReportedStatus.in_progress, progress_percent=n, summary=f"Post {n}."
    )
    with unit_of_work(engine) as session:
        update = reporting_service.post_update(session, actor, commitment_id, body)
        assert update.id is not None
        return update.id


def _statements(engine: Engine) -> tuple[list[str], Any]:
    seen: list[str] = []

    def on_execute(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", on_execute)
    return seen, on_execute


@pytest.mark.postgres_only
def test_under_the_chain_lock_a_post_sends_one_message(
    posting: tuple[Engine, Actor, int],
) -> None:
    """The lock is held to the commit, and taken by the post's last message: the server's
    ``audit_append`` (the head, the hash, the event, its tree nodes and its outbox row),
    the month's count and the day's timeline moves (one statement), and the COMMIT. No
    statement before it reads the chain or the tree, whatever subtrees the leaf closes."""
    engine, actor, commitment_id = posting
    closed_levels = set()
    for n in range(16):  # leaves closing subtrees up to level 4 (16 = 2**4 leaves)
        seen, listener = _statements(engine)
        _post(engine, actor, commitment_id, n)
        event.remove(engine, "before_cursor_execute", listener)
        *before, last = seen
        for table in ("audit_event", "merkle_node", "outbox_event", "update_month"):
            assert not any(table in s for s in before), (table, before)
        assert not any("audit_chain_head" in s or "pg_advisory" in s for s in seen), seen
        call, write, commit = last.split("; ")
        assert call.startswith("SELECT * FROM audit_append("), last
        assert write.startswith("WITH"), last
        assert write.count("INSERT INTO update_month") == 1, last
        assert write.count("INSERT INTO timeline_day") >= 1, last  # a row per day changed
        assert commit == "COMMIT", last
        with Session(engine) as s:
            index = s.exec(select(func.max(AuditEvent.seq))).one() - 1
        closed_levels.add((~index & (index + 1)).bit_length() - 1)  # its trailing ones
    assert closed_levels >= {0, 1, 2, 3}, closed_levels
    with unit_of_work(engine, write=False) as s:
        hashes = list(s.exec(select(AuditEvent.hash).order_by(col(AuditEvent.seq))).all())
        stored = {(n.level, n.idx): bytes(n.hash) for n in s.exec(select(MerkleNode)).all()}
        assert audit_service.verify(s).ok
    assert stored == {(level, idx): h for level, idx, h in merkle.build(hashes)}


@pytest.mark.postgres_only
def test_a_post_waiting_for_the_chain_holds_no_shared_row(
    posting: tuple[Engine, Actor, int],
) -> None:
    """Only its own commitment's rows: the month's count, which every post writes, is
    taken under the chain lock, so it adds no wait of its own to the serial section."""
    engine, actor, commitment_id = posting
    _post(engine, actor, commitment_id, 1)  # this month's update_month row exists
    with Session(engine) as s:
        month = s.exec(select(UpdateMonth.month)).one()
    result: dict[str, Any] = {}
    holder = engine.connect()
    holder.begin()
    holder.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK_ID})

    def waiting_post() -> None:
        try:
            result["id"] = _post(engine, actor, commitment_id, 2)
        except Exception as exc:  # reported by the assertion below
            result["error"] = exc

    poster = threading.Thread(target=waiting_post)
    poster.start()
    try:
        with engine.connect() as probe:
            deadline = time.monotonic() + 20
            while not probe.execute(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            ).scalar_one():
                assert time.monotonic() < deadline, "the post never waited for the chain"
                time.sleep(0.05)
            probe.rollback()
            probe.execute(text("SET lock_timeout = '1s'"))
            # A post waiting for the chain must not hold the month's row.
            probe.execute(
                text("UPDATE update_month SET updates = updates WHERE month = :m"), {"m": month}
            )
            # Nor the day's timeline row, which every post of the day writes.
            probe.execute(text("UPDATE timeline_day SET updates = updates"))
            probe.rollback()
    finally:
        holder.rollback()
        holder.close()
        poster.join(timeout=60)
    assert "error" not in result, result
    with unit_of_work(engine, write=False) as s:
        assert s.exec(select(UpdateMonth.updates).where(UpdateMonth.month == month)).one() == 2
        verdict = audit_service.verify(s)
    assert verdict.ok, verdict.detail


def test_every_statement_of_a_post_is_compiled_once(posting: tuple[Engine, Actor, int]) -> None:
    """Each statement a post runs has a compiled-cache key, so once warm none is compiled
    again: on SQLite the append's write, on PostgreSQL the statements sent with the
    COMMIT (written with their values in: ``db._compiled``). A multi-row VALUES (tree
    nodes, outbox rows) has no key and would be compiled anew on every post."""
    engine, actor, commitment_id = posting
    seen: list[tuple[str, CacheStats]] = []

    def on_execute(_c: Any, _cur: Any, statement: str, _p: Any, context: Any, _m: Any) -> None:
        if context.compiled is not None:  # not driver-level SQL (SQLite's BEGIN IMMEDIATE)
            seen.append((" ".join(statement.split()), context.cache_hit))

    event.listen(engine, "after_cursor_execute", on_execute)
    try:
        for n in range(16):  # every shape of append up to three closed levels
            _post(engine, actor, commitment_id, n)
        assert not [s for s, hit in seen if hit is CacheStats.NO_CACHE_KEY]
        for n in range(16, 24):
            seen.clear()
            compiled_before = db._compiled.cache_info().misses
            _post(engine, actor, commitment_id, n)
            assert all(hit is CacheStats.CACHE_HIT for _, hit in seen), seen
            assert db._compiled.cache_info().misses == compiled_before
            with Session(engine) as s:
                index = s.exec(select(func.max(AuditEvent.seq))).one() - 1
            if engine.dialect.name == "sqlite" and (~index & (index + 1)).bit_length() - 1 < 3:
                writes = [(s, hit) for s, hit in seen if "INSERT INTO audit_event" in s]
                assert writes, seen
    finally:
        event.remove(engine, "after_cursor_execute", on_execute)
