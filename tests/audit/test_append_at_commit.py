"""PostgreSQL's append at the commit (``audit.record_at_commit``, migration 0014_append).

The server computes the event's hash and Merkle nodes and writes the outbox bodies:
each must be exactly what the Python reference (``compute_hash``, ``merkle.build``,
``outbox.Notice.body``) gives, and a post must send its append with its COMMIT.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import Engine, event, text
from sqlmodel import Session, col, select

from tests.audit.test_append import _independent
from tests.factories import PASSWORD
from tests.live import prepare, serve
from vpitracker import migrate
from vpitracker.audit import merkle
from vpitracker.audit import service as audit_service
from vpitracker.db import make_engine, unit_of_work
from vpitracker.jsonutil import canonical, iso_z
from vpitracker.kernel.actor import Actor
from vpitracker.models import AuditEvent, Commitment, MerkleNode, OutboxEvent
from vpitracker.outbox import service as outbox
from vpitracker.reporting import service as reporting_service
from vpitracker.reporting.schemas import AssessmentCreate, StatusUpdateCreate
from vpitracker.vocab import EntityType, ReportedStatus, Role, Verdict

pytestmark = pytest.mark.postgres_only

# Text that JSON escapes, that SQL quotes, that a driver could take for a placeholder.
AWKWARD: list[dict[str, Any]] = [
    {},
    {"name": 'Wizara — "Interior" \\ ya Ndani', "emoji": "✓ ü 中 😀", "sep": "\u2028"},
    {"control": "\x00\x01\x1f\x7f\n\t\r", "quote": "it's $$ '' \\' %s %(x)s :name ::int"},
    {"nested": {"b": [1, 2.5, None, True], "a": {"z": "", "y": "\n\t"}}, "n": -0.0},
    {"big": 2**62, "bigger": -(2**63), "huge": 10**30, "small": 1e-7, "list": [{"k": "v"}, []]},
]
# Events per transaction: the chain grows across 1, 2, 4, 8, 16 and 32 leaves.
BATCHES = [1, 1, 2, 3, 1, 5, 8, 2, 1, 13, 3]


@pytest.fixture
def fresh(scratch_database_url: str) -> Iterator[Engine]:
    """A migrated database with an empty chain (the first append starts at genesis)."""
    engine = make_engine(scratch_database_url)
    migrate.upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def test_the_server_hashes_and_builds_the_tree_as_the_python_reference(fresh: Engine) -> None:
    actor = Actor(kind="user", id=2**31 - 1, role=Role.secretariat, email="a@example.org")
    expected: list[str] = []
    for b, size in enumerate(BATCHES):
        with unit_of_work(fresh) as session:
            for j in range(size):
                entity_id = f"{b}-{j}-é'\"%s"
                data = AWKWARD[(b + j) % len(AWKWARD)]
                if j == 1 and b % 3 == 0:
                    # Immediate, after a queued one: the queued append is made first.
                    audit_service.record(
                        session, None, "ministry.updated", EntityType.ministry, entity_id, data
                    )
                else:
                    audit_service.record_at_commit(
                        session, actor, "ministry.updated", EntityType.ministry, entity_id, data
                    )
                expected.append(entity_id)
    with Session(fresh) as session:
        events = session.exec(select(AuditEvent).order_by(col(AuditEvent.seq))).all()
        stored = {(n.level, n.idx): bytes(n.hash) for n in session.exec(select(MerkleNode)).all()}
    assert [e.entity_id for e in events] == expected
    assert [e.seq for e in events] == list(range(1, len(expected) + 1))
    prev = audit_service.GENESIS_HASH
    for e in events:
        assert e.prev_hash == prev
        assert e.hash == audit_service.compute_hash(prev, e) == _independent(prev, e)
        prev = e.hash
    assert [e.at for e in events] == sorted(e.at for e in events)
    assert stored == {(level, idx): h for level, idx, h in merkle.build(e.hash for e in events)}


@pytest.mark.parametrize("zone", ["UTC", "Africa/Nairobi", "America/St_Johns"])
def test_the_server_writes_a_time_as_iso_z(fresh: Engine, zone: str) -> None:
    times = [
        datetime(2026, 12, 4, 0, 0, 0, 0, tzinfo=UTC),
        datetime(2026, 12, 4, 0, 0, 0, 1, tzinfo=UTC),
        datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2028, 2, 29, 23, 59, 59, 500000, tzinfo=timezone(timedelta(hours=3))),
        datetime(2027, 1, 1, 0, 30, 0, 10, tzinfo=timezone(timedelta(hours=-3, minutes=-30))),
    ]
    with fresh.connect() as conn:
        conn.execute(text(f"SET TIME ZONE '{zone}'"))
        for at in times:
            made = conn.execute(text("SELECT audit_iso_z(:at)"), {"at": at}).scalar_one()
            assert made == iso_z(at)


def _post_update(engine: Engine, actor: Actor, commitment_id: int, **fields: Any) -> int:
    body = StatusUpdateCreate(status=ReportedStatus.in_progress, progress_percent=5, **fields)
    with unit_of_work(engine) as session:
        update = reporting_service.post_update(session, actor, commitment_id, body)
        assert update.id is not None
        return update.id


def _post_assessment(engine: Engine, actor: Actor, commitment_id: int, update_id: int) -> int:
    body = AssessmentCreate(
        status_update_id=update_id,
        verdict=Verdict.disputes,
        assessed_status=ReportedStatus.not_started,
        rationale='Évidence "missing" \\ 中 %s',
    )
    with unit_of_work(engine) as session:
        assessment = reporting_service.post_assessment(session, actor, commitment_id, body)
        assert assessment.id is not None
        return assessment.id


def test_the_outbox_bodies_the_server_writes_are_the_reference(
    posting: tuple[Engine, Actor, int],
) -> None:
    engine, actor, commitment_id = posting
    first = _post_update(engine, actor, commitment_id, summary=AWKWARD[1]["name"] + "\x01")
    assessment = _post_assessment(engine, actor, commitment_id, first)
    _post_update(
        engine, actor, commitment_id, summary="Reply ✓", in_reply_to_assessment_id=assessment
    )
    with Session(engine) as session:
        commitment = session.get(Commitment, commitment_id)
        assert commitment is not None
        posted = session.exec(
            select(AuditEvent).where(col(AuditEvent.action).endswith(".posted"))
        ).all()
        seqs = [e.seq for e in posted]
        rows = session.exec(select(OutboxEvent).where(col(OutboxEvent.audit_seq).in_(seqs))).all()
        assert len(rows) == 5  # a post, a dispute (two types), a reply (two types)
        for e in posted:
            notice = outbox.prepare(session, e.action, e.entity_type, e.entity_id, e.data)
            assert notice is not None
            mine = sorted((r for r in rows if r.audit_seq == e.seq), key=lambda r: r.id or 0)
            assert [r.type for r in mine] == [t.value for t in notice.types]
            for row, event_type in zip(mine, notice.types, strict=True):
                assert row.created_at == e.at
                assert row.body == notice.body(event_type, e, e.at)
                data = json.loads(e.data)
                reference = {
                    "type": event_type.value,
                    "timestamp": iso_z(e.at),
                    "data": {
                        "seq": e.seq,
                        "hash": e.hash,
                        "action": e.action,
                        "entity_type": e.entity_type,
                        "entity_id": int(e.entity_id),
                        "commitment_id": commitment_id,
                        "commitment_code": commitment.code,
                        "ministry_ids": [commitment.lead_ministry_id],
                        "entity": data,
                    },
                }
                assert row.body == canonical(reference)
                assert row.ministry_ids == json.dumps([commitment.lead_ministry_id])
                assert row.commitment_id == commitment_id


def test_a_post_sends_its_append_with_its_commit(posting: tuple[Engine, Actor, int]) -> None:
    """Status updates and assessments: no lock before the end, one message with the
    COMMIT at the end, and SQLAlchemy's commit afterwards finds the connection idle
    (psycopg then sends nothing)."""
    engine, actor, commitment_id = posting
    seen: list[str] = []
    at_commit: list[TransactionStatus] = []

    def on_execute(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        seen.append(" ".join(statement.split()))

    def on_commit(conn: Any) -> None:
        at_commit.append(conn.connection.driver_connection.info.transaction_status)

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "commit", on_commit)
    try:
        for post in ("update", "assessment"):
            seen.clear()
            at_commit.clear()
            if post == "update":
                update_id = _post_update(engine, actor, commitment_id, summary="Post.")
            else:
                _post_assessment(engine, actor, commitment_id, update_id)
            assert not any("audit_chain_head" in s or "pg_advisory" in s for s in seen), seen
            assert not any("INSERT INTO audit_event" in s for s in seen), seen
            last = seen[-1]
            assert last.startswith("SELECT * FROM audit_append("), seen
            assert last.endswith("; COMMIT"), last
            assert sum("audit_append" in s for s in seen) == 1, seen
            assert at_commit == [TransactionStatus.IDLE]
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "commit", on_commit)
    with unit_of_work(engine, write=False) as session:
        assert audit_service.verify(session).ok


def test_a_bare_commit_still_runs_the_queued_append(posting: tuple[Engine, Actor, int]) -> None:
    """``session.commit()`` called directly (not the request's commit path) writes the
    queued append and its counts before it commits: the post is never left unaudited."""
    engine, actor, commitment_id = posting
    body = StatusUpdateCreate(
        status=ReportedStatus.in_progress, progress_percent=7, summary="Bare."
    )
    with Session(engine) as session:
        before = audit_service.verify(session).head_seq
        update = reporting_service.post_update(session, actor, commitment_id, body)
        session.commit()
    with Session(engine) as session:
        events = session.exec(
            select(AuditEvent).where(
                AuditEvent.entity_type == EntityType.status_update.value,
                AuditEvent.entity_id == str(update.id),
            )
        ).all()
        assert [e.seq for e in events] == [before + 1]
        month = update.reported_at.astimezone(UTC).strftime("%Y-%m")
        counted = session.execute(
            text("SELECT updates FROM update_month WHERE month = :m"), {"m": month}
        ).scalar_one()
        recount = session.execute(
            text(
                "SELECT count(*) FROM status_update WHERE to_char(reported_at AT TIME ZONE"
                " 'UTC', 'YYYY-MM') = :m"
            ),
            {"m": month},
        ).scalar_one()
        assert counted == recount
        assert audit_service.verify(session).ok


_TRAP = [
    "CREATE TABLE commit_trap_parent (id INTEGER PRIMARY KEY)",
    "CREATE TABLE commit_trap (parent_id INTEGER"
    " REFERENCES commit_trap_parent(id) DEFERRABLE INITIALLY DEFERRED)",
    "CREATE FUNCTION commit_trap_fn() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN IF NEW.summary = 'TRAP' THEN INSERT INTO commit_trap VALUES (-1); END IF;"
    " RETURN NEW; END $$",
    "CREATE TRIGGER commit_trap_on_insert AFTER INSERT ON status_update"
    " FOR EACH ROW EXECUTE FUNCTION commit_trap_fn()",
]


@contextmanager
def _signed_in(url: str, email: str, password: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=60) as client:
        signed = client.post("/v1/auth/token", data={"username": email, "password": password})
        assert signed.status_code == 200, signed.text
        client.headers["Authorization"] = f"Bearer {signed.json()['access_token']}"
        yield client


@pytest.mark.server
def test_a_post_whose_commit_fails_is_not_acknowledged(
    posting: tuple[Engine, Actor, int], scratch_database_url: str
) -> None:
    """The COMMIT sent with the append fails (a deferred constraint): no 2xx, no event."""
    engine, actor, commitment_id = posting
    with engine.begin() as conn:
        for statement in _TRAP:
            conn.execute(text(statement))
    with (
        serve(prepare(scratch_database_url)) as live,
        _signed_in(live.url, actor.email or "", PASSWORD) as client,
    ):
        with engine.connect() as conn:
            head = conn.execute(text("SELECT max(seq) FROM audit_event")).scalar_one()
        url = f"/v1/commitments/{commitment_id}/status-updates"
        body = {"status": "in_progress", "progress_percent": 9}
        r = client.post(url, json={**body, "summary": "TRAP"})
        assert r.status_code >= 500, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert "not saved" in r.json()["detail"]
        with engine.connect() as conn:
            assert conn.execute(text("SELECT max(seq) FROM audit_event")).scalar_one() == head
            assert not conn.execute(
                text("SELECT count(*) FROM status_update WHERE summary = 'TRAP'")
            ).scalar_one()
        ok = client.post(url, json={**body, "summary": "Fine."})
        assert ok.status_code == 201, ok.text
        verdict = client.get("/v1/audit/verify").json()
        assert verdict["ok"] is True, verdict
        assert verdict["head"]["seq"] == head + 1


@pytest.mark.server
def test_concurrent_posts_to_two_workers_keep_the_chain(
    posting: tuple[Engine, Actor, int], scratch_database_url: str
) -> None:
    """Status updates and disputing assessments from 8 clients to ``serve --workers 2``:
    every post acknowledged is on the chain once, with its outbox rows, and it verifies."""
    engine, actor, commitment_id = posting
    lock = threading.Lock()
    created: list[tuple[str, int]] = []
    with serve(prepare(scratch_database_url), workers=2) as live:
        with engine.connect() as conn:
            head = conn.execute(text("SELECT max(seq) FROM audit_event")).scalar_one()

        token = live.token(actor.email or "", PASSWORD)

        def client_posts(n: int) -> list[int]:
            codes = []
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=live.url, headers=headers, timeout=60) as client:
                base = f"/v1/commitments/{commitment_id}"
                for i in range(8):
                    r = client.post(
                        f"{base}/status-updates",
                        json={
                            "status": "in_progress",
                            "progress_percent": i,
                            "summary": f"{n}.{i}",
                        },
                    )
                    codes.append(r.status_code)
                    if r.status_code != 201:
                        continue
                    a = client.post(
                        f"{base}/assessments",
                        json={
                            "status_update_id": r.json()["id"],
                            "verdict": "disputes" if i % 2 else "agrees",
                            "assessed_status": "in_progress",
                            "rationale": f"Checked {n}.{i}.",
                        },
                    )
                    codes.append(a.status_code)
                    with lock:
                        created.append(("status_update", r.json()["id"]))
                        if a.status_code == 201:
                            created.append(("assessment", a.json()["id"]))
            return codes

        with ThreadPoolExecutor(8) as pool:
            codes = [c for batch in pool.map(client_posts, range(8)) for c in batch]
        assert codes == [201] * 8 * 8 * 2, sorted(set(codes))
        with _signed_in(live.url, actor.email or "", PASSWORD) as client:
            verdict = client.get("/v1/audit/verify").json()
    assert verdict["ok"] is True, verdict
    assert verdict["head"]["seq"] == head + len(created)
    with Session(engine) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.seq > head)).all()
        assert sorted((e.entity_type, int(e.entity_id)) for e in events) == sorted(created)
        outboxed = session.exec(select(OutboxEvent).where(col(OutboxEvent.audit_seq) > head)).all()
    # One row per post, and a second for each dispute (every odd i).
    assert len(outboxed) == len(created) + 8 * 4
