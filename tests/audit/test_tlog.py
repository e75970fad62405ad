"""The verifiable log: Merkle tree, signed checkpoints, proofs and public events.

Every proof the application produces is checked by ``tests/audit/independent.py``,
written separately from RFC 9162 and the C2SP signed-note text. Tree arithmetic is
checked in memory; the stored tree and the HTTP routes against the test database.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from tests.assertions import problem
from tests.audit import independent as ind
from tests.audit.test_chain import independent_hash
from tests.conftest import TEST_LOG_ORIGIN, TEST_LOG_VKEY, test_settings
from tests.credentials import headers_as
from vpitracker import migrate
from vpitracker.audit import merkle, note, transparency
from vpitracker.audit import service as audit_service
from vpitracker.cli import app as cli
from vpitracker.config import Environment, Settings
from vpitracker.db import make_engine
from vpitracker.errors import NotFound
from vpitracker.models import AuditEvent, MerkleNode, utcnow
from vpitracker.vocab import EntityType


def fake_hashes(n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [rng.randbytes(32).hex() for _ in range(n)]


def in_memory(hashes: list[str]) -> dict[merkle.Key, bytes]:
    return {(level, idx): h for level, idx, h in merkle.build(hashes)}


def proof(plans: list[merkle.Plan], nodes: dict[merkle.Key, bytes]) -> list[bytes]:
    return [merkle.fold(keys, nodes) for keys in plans]


def flipped(hashes: list[bytes], i: int) -> list[bytes]:
    out = list(hashes)
    out[i] = bytes([out[i][0] ^ 1]) + out[i][1:]
    return out


class TestTreeArithmetic:
    """The proofs the application plans, verified independently (no database)."""

    def test_roots_and_every_inclusion_proof_up_to_70(self) -> None:
        hashes = fake_hashes(70)
        nodes = in_memory(hashes)
        leaves = [ind.leaf(h) for h in hashes]
        for n in range(1, 71):
            root = merkle.fold(merkle.plan(0, n), nodes)
            assert root == ind.mth(leaves[:n]), n
            for m in range(n):
                path = proof(merkle.inclusion_plan(m, n), nodes)
                assert ind.inclusion_ok(m, n, leaves[m], path, root), (m, n)
                assert merkle.verify_inclusion(m, n, leaves[m], path, root)
                if path:
                    bad = flipped(path, len(path) // 2)
                    assert not ind.inclusion_ok(m, n, leaves[m], bad, root)
                    assert not merkle.verify_inclusion(m, n, leaves[m], bad, root)
                    assert not merkle.verify_inclusion(m, n, leaves[m], path[:-1], root)
                other = leaves[(m + 1) % n]
                if other != leaves[m]:
                    assert not merkle.verify_inclusion(m, n, other, path, root)

    def test_every_consistency_proof_up_to_70(self) -> None:
        hashes = fake_hashes(70, seed=2)
        nodes = in_memory(hashes)
        ref = ind.Mth([ind.leaf(h) for h in hashes])
        for n in range(1, 71):
            new_root = ref(0, n)
            for m in range(1, n + 1):
                old_root = ref(0, m)
                path = proof(merkle.consistency_plan(m, n), nodes)
                assert ind.consistency_ok(m, n, path, old_root, new_root), (m, n)
                assert merkle.verify_consistency(m, n, old_root, new_root, path)
                if m < n:
                    bad = flipped(path, 0)
                    assert not ind.consistency_ok(m, n, bad, old_root, new_root)
                    assert not merkle.verify_consistency(m, n, old_root, new_root, bad)
                    forked = bytes(32)
                    assert not merkle.verify_consistency(m, n, forked, new_root, path)

    def test_sampled_leaves_and_sizes_of_a_large_tree(self) -> None:
        size = 100_003
        hashes = fake_hashes(size, seed=3)
        nodes = in_memory(hashes)
        ref = ind.Mth([ind.leaf(h) for h in hashes])
        root = ref(0, size)
        assert merkle.fold(merkle.plan(0, size), nodes) == root
        rng = random.Random(4)
        for m in [
            0,
            1,
            size // 2,
            65_535,
            65_536,
            size - 2,
            size - 1,
            *rng.sample(range(size), 60),
        ]:
            path = proof(merkle.inclusion_plan(m, size), nodes)
            assert len(path) <= 17
            assert ind.inclusion_ok(m, size, ref.leaves[m], path, root), m
        for first in [1, 2, 3, 65_536, 65_537, size - 1, *rng.sample(range(1, size), 30)]:
            path = proof(merkle.consistency_plan(first, size), nodes)
            assert ind.consistency_ok(first, size, path, ref(0, first), root), first

    def test_the_empty_tree(self) -> None:
        assert merkle.fold(merkle.plan(0, 0), {}) == hashlib.sha256(b"").digest()


def append_events(session: Session, n: int, entity: EntityType = EntityType.ministry) -> None:
    for i in range(n):
        audit_service.record(session, None, f"{entity.value}.created", entity, i, {"n": i})
    session.commit()


def events(session: Session) -> list[AuditEvent]:
    session.expire_all()
    return list(session.exec(select(AuditEvent).order_by(col(AuditEvent.seq))).all())


class TestStoredTree:
    def test_each_append_stores_exactly_the_complete_subtrees(self, session: Session) -> None:
        start = len(events(session))
        append_events(session, 70)
        hashes = [e.hash for e in events(session)]
        assert len(hashes) == start + 70
        stored = {(n.level, n.idx): n.hash for n in session.exec(select(MerkleNode)).all()}
        assert stored == in_memory(hashes)
        # Proofs read from the database, for many sizes of the same stored tree.
        leaves = [ind.leaf(h) for h in hashes]
        ref = ind.Mth(leaves)
        total = len(hashes)
        for n in sorted({1, 2, 3, 7, 8, 9, 33, 64, total - 1, total}):
            assert transparency.root(session, n) == ref(0, n)
            for m in range(n):
                path = transparency.inclusion(session, m + 1, n)
                assert ind.inclusion_ok(m, n, leaves[m], path, ref(0, n)), (m, n)
            for first in range(1, n + 1):
                path = transparency.consistency(session, first, n)
                assert ind.consistency_ok(first, n, path, ref(0, first), ref(0, n))

    def test_a_size_one_past_the_log_is_not_found(self, session: Session) -> None:
        append_events(session, 5)
        size = len(events(session))
        assert transparency.inclusion(session, size, size)
        with pytest.raises(NotFound):
            transparency.inclusion(session, 1, size + 1)
        with pytest.raises(NotFound):
            transparency.consistency(session, size + 1, size + 1)

    def test_a_write_that_rolls_back_leaves_no_tree_node(self, session: Session) -> None:
        append_events(session, 3)
        before = session.exec(select(MerkleNode)).all()
        audit_service.record(session, None, "ministry.created", EntityType.ministry, 9, {})
        session.rollback()
        assert session.exec(select(MerkleNode)).all() == before


def checkpoint_lines(client: TestClient, headers: dict[str, str]) -> list[str]:
    r = client.get("/v1/audit/checkpoint", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    return ind.check_note(r.text, TEST_LOG_VKEY)


def b64(values: list[str]) -> list[bytes]:
    return [base64.b64decode(v) for v in values]


class TestHttp:
    def test_checkpoint_is_a_signed_note_of_the_current_tree(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        headers = headers_as(session, settings, "viewer")
        append_events(session, 5)
        origin, size, root = checkpoint_lines(client, headers)
        rows = events(session)
        assert origin == TEST_LOG_ORIGIN
        assert int(size) == rows[-1].seq == len(rows)
        assert base64.b64decode(root) == ind.mth([ind.leaf(e.hash) for e in rows])

    def test_an_event_is_proved_into_the_signed_tree(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        headers = headers_as(session, settings, "api_key")
        append_events(session, 6)
        _, size, root = checkpoint_lines(client, headers)
        seq = 4
        event = client.get(f"/v1/audit/events/{seq}", headers=headers).json()
        prev = event["prev_hash"]
        assert independent_hash(prev, event) == event["hash"]
        r = client.get(
            "/v1/audit/proof/inclusion", params={"seq": seq, "tree_size": size}, headers=headers
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["leaf_index"], body["tree_size"]) == (seq - 1, int(size))
        leaf = ind.leaf(event["hash"])
        assert ind.inclusion_ok(seq - 1, int(size), leaf, b64(body["hashes"]), b64([root])[0])

    def test_a_later_checkpoint_is_proved_consistent_with_an_earlier_one(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        headers = headers_as(session, settings, "alliance_member")
        append_events(session, 3)
        _, old_size, old_root = checkpoint_lines(client, headers)
        append_events(session, 4)
        _, new_size, new_root = checkpoint_lines(client, headers)
        params = {"first": old_size, "second": new_size}
        body = client.get("/v1/audit/proof/consistency", params=params, headers=headers).json()
        assert (body["first"], body["second"]) == (int(old_size), int(new_size))
        assert ind.consistency_ok(
            int(old_size), int(new_size), b64(body["hashes"]), *b64([old_root, new_root])
        )

    @pytest.mark.parametrize(
        ("path", "params", "status"),
        [
            ("inclusion", {"seq": 0, "tree_size": 1}, 422),
            ("inclusion", {"seq": 3, "tree_size": 2}, 422),
            ("inclusion", {"seq": 1, "tree_size": 2**40}, 422),
            ("inclusion", {"seq": "x", "tree_size": 1}, 422),
            ("inclusion", {"seq": 1}, 422),
            ("inclusion", {"seq": 1, "tree_size": 1_000_000}, 404),
            ("consistency", {"first": 0, "second": 1}, 422),
            ("consistency", {"first": 3, "second": 2}, 422),
            ("consistency", {"first": 1, "second": 1_000_000}, 404),
            ("consistency", {"first": 1_000_000, "second": 1_000_000}, 404),
        ],
    )
    def test_bad_sizes_are_problems(
        self,
        client: TestClient,
        session: Session,
        settings: Settings,
        path: str,
        params: dict[str, Any],
        status: int,
    ) -> None:
        headers = headers_as(session, settings, "viewer")
        append_events(session, 2)
        problem(client.get(f"/v1/audit/proof/{path}", params=params, headers=headers), status)

    def test_events_about_people_and_keys_stay_the_secretariats(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        append_events(session, 1, EntityType.user)
        user_seq = events(session)[-1].seq
        append_events(session, 1, EntityType.status_update)
        public_seq = user_seq + 1
        for who in ("alliance_member", "government_officer", "viewer", "api_key"):
            headers = headers_as(session, settings, who)
            problem(client.get(f"/v1/audit/events/{user_seq}", headers=headers), 404)
            r = client.get(f"/v1/audit/events/{public_seq}", headers=headers)
            assert r.json()["entity_type"] == "status_update", r.text
        sec = headers_as(session, settings, "secretariat")
        assert client.get(f"/v1/audit/events/{user_seq}", headers=sec).json()["seq"] == user_seq
        problem(client.get("/v1/audit/events/999999", headers=sec), 404)
        problem(client.get("/v1/audit/events/0", headers=sec), 422)


class TestPublicRead:
    @pytest.fixture
    def settings(self) -> Settings:
        return test_settings(public_read=True)

    def test_anyone_reads_the_checkpoint_and_public_events(
        self, client: TestClient, session: Session
    ) -> None:
        append_events(session, 2)
        assert checkpoint_lines(client, {})[1] == str(len(events(session)))
        assert client.get("/v1/audit/events/1").status_code == 200


class TestSigningKey:
    @pytest.fixture
    def settings(self) -> Settings:
        return test_settings(env=Environment.test, log_signing_key=None)

    def test_no_key_outside_development_is_a_503_saying_so(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        headers = headers_as(session, settings, "viewer")
        body = problem(client.get("/v1/audit/checkpoint", headers=headers), 503)
        assert "VPI_LOG_SIGNING_KEY" in body["detail"]

    def test_development_generates_a_key_once_and_keeps_it(
        self, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(tmp_path)
        dev = test_settings(env=Environment.development, log_signing_key=None)
        first = transparency.checkpoint(session, dev)
        kept = (tmp_path / transparency.DEV_KEY_FILE).read_text().strip()
        assert kept.startswith(f"PRIVATE+KEY+{dev.log_origin}+")
        assert (tmp_path / transparency.DEV_KEY_FILE).stat().st_mode & 0o077 == 0
        vkey = note.parse_signer(kept).verifier().encode()
        assert ind.check_note(first, vkey)[0] == dev.log_origin
        assert ind.check_note(transparency.checkpoint(session, dev), vkey)[0] == dev.log_origin


runner = CliRunner()


def keygen(name: str) -> tuple[str, str]:
    result = runner.invoke(cli, ["log", "keygen", "--name", name])
    assert result.exit_code == 0, result.output
    signing, verifier = result.stdout.splitlines()
    return signing, verifier


class TestOfflineChecks:
    def test_keygen_prints_keys_in_note_formats(self) -> None:
        signing, verifier = keygen("example.org/log")
        name, key_hash, key_b64 = verifier.split("+", 2)
        public = base64.b64decode(key_b64)[1:]
        assert name == "example.org/log"
        assert len(key_hash) == 8
        assert hashlib.sha256(b"example.org/log\n\x01" + public).digest()[:4].hex() == key_hash
        assert signing.startswith(f"PRIVATE+KEY+example.org/log+{key_hash}+")

    def test_check_commands_pass_on_truth_and_fail_on_tampering(
        self, client: TestClient, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        headers = headers_as(session, settings, "viewer")
        append_events(session, 3)
        old = client.get("/v1/audit/checkpoint", headers=headers).text
        append_events(session, 4)
        new = client.get("/v1/audit/checkpoint", headers=headers).text
        old_size, new_size = int(old.split("\n")[1]), int(new.split("\n")[1])
        files = {
            "old": old,
            "new": new,
            "event": client.get("/v1/audit/events/2", headers=headers).text,
            "inclusion": client.get(
                "/v1/audit/proof/inclusion", params={"seq": 2, "tree_size": new_size},
                headers=headers,
            ).text,
            "consistency": client.get(
                "/v1/audit/proof/consistency", params={"first": old_size, "second": new_size},
                headers=headers,
            ).text,
        }  # fmt: skip
        for name, text in files.items():
            (tmp_path / name).write_text(text, encoding="utf-8")
        p = {name: str(tmp_path / name) for name in files}
        key = ["--key", TEST_LOG_VKEY]

        def run(*args: str) -> tuple[int, str]:
            result = runner.invoke(cli, ["audit", *args])
            return result.exit_code, (result.stdout + result.stderr).strip()

        inclusion = ["check-inclusion", "--checkpoint", p["new"], "--event", p["event"]]
        inclusion += ["--proof", p["inclusion"], *key]
        consistency = ["check-consistency", "--old", p["old"], "--new", p["new"]]
        consistency += ["--proof", p["consistency"], *key]
        # The viewer's own creation is an event too: the sizes count from it.
        assert new_size == old_size + 4
        assert run("check-checkpoint", p["new"], *key)[0] == 0
        assert run(*inclusion) == (
            0,
            f"OK: event 2 is in {TEST_LOG_ORIGIN} at tree size {new_size}",
        )
        assert run(*consistency) == (
            0,
            f"OK: the tree of {new_size} events extends the tree of {old_size}",
        )

        # A signed size changed by hand no longer verifies.
        forged = new.replace(f"\n{new_size}\n", f"\n{new_size + 1}\n")
        (tmp_path / "new").write_text(forged, encoding="utf-8")
        code, out = run("check-checkpoint", p["new"], *key)
        assert (code, out.count("\n")) == (1, 0)
        assert "does not verify" in out
        (tmp_path / "new").write_text(new, encoding="utf-8")
        # Another key with the same name is not the log's key.
        code, out = run("check-checkpoint", p["new"], "--key", keygen(TEST_LOG_ORIGIN)[1])
        assert code == 1
        assert "not signed by" in out
        # An altered event, served with its old hash, fails its own hash.
        event = json.loads(files["event"])
        (tmp_path / "event").write_text(json.dumps({**event, "data": {"n": 99}}))
        code, out = run(*inclusion)
        assert code == 1
        assert "altered" in out
        # A consistent-looking proof from another history fails.
        other = dict(json.loads(files["consistency"]))
        other["hashes"] = [base64.b64encode(bytes(32)).decode()] * len(other["hashes"])
        (tmp_path / "consistency").write_text(json.dumps(other))
        code, out = run(*consistency)
        assert code == 1
        assert out.startswith("FAIL: fork")
        # Swapped order: a newer checkpoint cannot be "extended" by an older one.
        swapped = ["check-consistency", "--old", p["new"], "--new", p["old"]]
        code, out = run(*swapped, "--proof", p["consistency"], *key)
        assert code == 1


class TestMigration:
    def test_upgrading_a_database_with_events_builds_their_tree(
        self, scratch_database_url: str
    ) -> None:
        engine = make_engine(scratch_database_url)
        try:
            migrate.upgrade(engine, "0003")
            with Session(engine) as s:
                for i in range(37):
                    s.add(AuditEvent(
                        seq=i + 1, at=utcnow(), actor_type="anonymous", action="ministry.created",
                        entity_type="ministry", entity_id=str(i), data="{}",
                        prev_hash=f"{i:064x}", hash=f"{i + 1:064x}",
                    ))  # fmt: skip
                s.commit()
            migrate.upgrade(engine)
            with Session(engine) as s:
                stored = {(n.level, n.idx): n.hash for n in s.exec(select(MerkleNode)).all()}
                ref = ind.Mth([ind.leaf(f"{i + 1:064x}") for i in range(37)])
                assert stored == in_memory([f"{i + 1:064x}" for i in range(37)])
                assert transparency.root(s, 37) == ref(0, 37)
        finally:
            engine.dispose()
