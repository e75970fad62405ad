"""`vpitracker audit witness` against a real server whose database is tampered with.

The witness runs as its own process with no database settings, as a member
organization would run it from cron. It must accept honest growth and refuse a
bad signature, a removed tail (rollback), an event rewritten with its chain and
tree recomputed (fork), and a database restored from an older backup and grown
again (fork) — the last two pass `vpitracker audit verify`, which sees only the
rows in front of it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, delete, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, col, select

from tests.conftest import TEST_LOG_ORIGIN, TEST_LOG_VKEY
from tests.live import LiveServer, cli, prepare, serve, server_env
from vpitracker.audit import merkle, note
from vpitracker.audit.service import compute_hash
from vpitracker.db import make_engine, normalize_url
from vpitracker.jsonutil import canonical
from vpitracker.models import ApiKey, AuditEvent, MerkleNode, Ministry

pytestmark = pytest.mark.server


def witness(server: LiveServer, state: Path, api_key: str, key: str = TEST_LOG_VKEY) -> str:
    """Run the witness; its one line of output, prefixed with its exit code."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VPI_")}
    done = subprocess.run(
        [sys.executable, "-m", "vpitracker", "audit", "witness", "--url", server.url,
         "--state", str(state), "--key", key, "--api-key", api_key],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    out = (done.stdout + done.stderr).strip()
    assert "\n" not in out, out
    return f"{done.returncode} {out}"


def post_ministries(server: LiveServer, token: str, n: int) -> None:
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as c:
        for _ in range(n):
            code = f"W{uuid.uuid4().hex[:8]}"
            r = c.post("/v1/ministries", json={"code": code, "name": code, "kind": "ministry"})
            assert r.status_code == 201, r.text


def read_key(server: LiveServer, token: str) -> str:
    r = httpx.post(
        f"{server.url}/v1/api-keys",
        json={"name": "witness"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 201, r.text
    return str(r.json()["key"])


def rebuild_tree(session: Session) -> None:
    hashes = session.exec(select(AuditEvent.hash).order_by(col(AuditEvent.seq))).all()
    session.execute(delete(MerkleNode))
    rows = [{"level": lv, "idx": i, "hash": h} for lv, i, h in merkle.build(hashes)]
    if rows:
        session.execute(MerkleNode.__table__.insert(), rows)  # type: ignore[attr-defined]


def remove_tail(url: str, keep: int) -> None:
    """Delete the events after ``keep``, and the ministries they created, covering the tracks.

    (Rows left without their events would fail ``vpitracker audit verify``.)
    """
    engine = make_engine(url)
    with Session(engine) as s:
        created = select(AuditEvent.entity_id).where(
            col(AuditEvent.seq) > keep, AuditEvent.action == "ministry.created"
        )
        ids = [int(i) for i in s.exec(created).all()]
        s.execute(delete(Ministry).where(col(Ministry.id).in_(ids)))
        s.execute(delete(AuditEvent).where(col(AuditEvent.seq) > keep))
        rebuild_tree(s)
        s.commit()
    engine.dispose()


def rewrite_history(url: str, seq: int) -> None:
    """Rename the API key event ``seq`` created, in its row and in the event, then recompute
    the chain and tree after it, covering the tracks (verification compares the two)."""
    engine = make_engine(url)
    with Session(engine) as s:
        rows = s.exec(select(AuditEvent).order_by(col(AuditEvent.seq))).all()
        prev = rows[seq - 2].hash if seq > 1 else "0" * 64
        for event in rows[seq - 1 :]:
            if event.seq == seq:
                assert event.action == "api_key.created", event
                event.data = canonical({**json.loads(event.data), "name": "rewritten"})
                key = s.get_one(ApiKey, int(event.entity_id))
                key.name = "rewritten"
                s.add(key)
            event.prev_hash, event.hash = prev, compute_hash(prev, event)
            prev = event.hash
            s.add(event)
            s.flush()
        rebuild_tree(s)
        s.commit()
    engine.dispose()


def audit_verify_ok(url: str) -> bool:
    return json.loads(cli(server_env(url), "audit", "verify"))["ok"] is True


@contextmanager
def restored(backup: Path, scratch_url: str, tmp_path: Path) -> Iterator[str]:
    """A new database holding the backup, as an operator restoring it would get."""
    url = normalize_url(scratch_url)
    if url.startswith("sqlite"):
        target = tmp_path / "restored.db"
        shutil.copyfile(backup, target)
        yield f"sqlite:///{target}"
        return
    name = f"vpi_restore_{uuid.uuid4().hex[:12]}"
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        restore_url = make_url(url).set(database=name)
        libpq = restore_url.set(drivername="postgresql").render_as_string(hide_password=False)
        done = subprocess.run(
            ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={libpq}", str(backup)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        yield restore_url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_witness_accepts_growth_and_refuses_rollback_fork_and_restored_backup(
    scratch_database_url: str, tmp_path: Path
) -> None:
    env = prepare(scratch_database_url)
    trusted, fresh = tmp_path / "trusted", tmp_path / "fresh"
    backup = tmp_path / "backup.db"
    with serve(env) as server:
        token = server.token()
        api_key = read_key(server, token)
        post_ministries(server, token, 3)
        checkpoint = httpx.get(f"{server.url}/v1/audit/checkpoint", headers={"X-API-Key": api_key})
        size = int(checkpoint.text.split()[1])
        assert witness(server, trusted, api_key) == (
            f"0 OK: first checkpoint of {TEST_LOG_ORIGIN} kept at tree size {size}"
        )
        cli(env, "backup", str(backup))
        post_ministries(server, token, 3)
        assert witness(server, trusted, api_key) == (
            f"0 OK: the tree of {size + 3} events extends the tree of {size}"
        )
        kept = (trusted / "checkpoint").read_text()

        impostor = note.generate(TEST_LOG_ORIGIN).verifier().encode()
        assert witness(server, trusted, api_key, key=impostor) == (
            f"1 FAIL: bad checkpoint: the note is not signed by {TEST_LOG_ORIGIN}"
        )

        remove_tail(scratch_database_url, keep=size + 1)
        assert witness(server, trusted, api_key) == (
            f"1 FAIL: rollback: the tree shrank from {size + 3} to {size + 1} events"
        )
        assert (trusted / "checkpoint").read_text() == kept, "a refused checkpoint is not kept"

        assert witness(server, fresh, api_key).startswith("0 OK: first checkpoint")
        rewrite_history(scratch_database_url, seq=2)
        assert audit_verify_ok(scratch_database_url), "the rewrite recomputed the whole chain"
        assert witness(server, fresh, api_key) == (
            f"1 FAIL: fork: the tree of {size + 1} events does not extend the tree of {size + 1}"
        )

    with (
        restored(backup, scratch_database_url, tmp_path) as restore_url,
        serve(prepare_restored(env, restore_url)) as server,
    ):
        post_ministries(server, server.token(), 5)
        assert audit_verify_ok(restore_url)
        assert witness(server, trusted, api_key) == (
            f"1 FAIL: fork: the tree of {size + 5} events does not extend the tree of {size + 3}"
        )


def prepare_restored(env: dict[str, str], url: str) -> dict[str, str]:
    return {**env, "VPI_DATABASE_URL": url}
