"""`vpitracker backup`: a consistent copy, taken while a real server posts updates, verifies."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests import live
from tests.factories import status_update_body
from vpitracker.audit import service as audit_service
from vpitracker.backup import BackupError, backup
from vpitracker.db import make_engine, normalize_url, unit_of_work


def _wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def _commitment(server: live.LiveServer, headers: dict[str, str]) -> int:
    ministry = httpx.post(
        f"{server.url}/v1/ministries",
        json={"code": "CTIPS", "name": "Counter-Trafficking Secretariat", "kind": "agency"},
        headers=headers,
    )
    ministry.raise_for_status()
    commitment = httpx.post(
        f"{server.url}/v1/commitments",
        json={
            "code": "GOK-C-01",
            "title": "Adopt NRM SOPs",
            "description": "Adopt SOPs and train focal points",
            "lead_ministry_id": ministry.json()["id"],
            "due_date": "2030-12-31",
            "indicator": "SOPs adopted",
        },
        headers=headers,
    )
    commitment.raise_for_status()
    return int(commitment.json()["id"])


def _audit_verify(database_url: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "vpitracker", "audit", "verify"],
        env=live.server_env(database_url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    verdict: dict[str, object] = json.loads(done.stdout)
    return verdict


def _backup_while_posting(database_url: str, out: Path) -> tuple[int, int, int]:
    """Back up while a thread posts updates: updates posted before, after, and in all."""
    env = live.prepare(database_url)
    posted: list[int] = []
    failures: list[BaseException] = []
    stop = threading.Event()
    with live.serve(env) as server:
        headers = {"Authorization": f"Bearer {server.token()}"}
        commitment_id = _commitment(server, headers)

        def post_updates() -> None:
            try:
                with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
                    while not stop.is_set():
                        r = client.post(
                            f"/v1/commitments/{commitment_id}/status-updates",
                            json=status_update_body(summary=f"Update {len(posted) + 1}"),
                        )
                        r.raise_for_status()
                        posted.append(r.json()["id"])
            except BaseException as exc:
                failures.append(exc)

        thread = threading.Thread(target=post_updates, daemon=True)
        thread.start()
        try:
            _wait_for(lambda: len(posted) >= 5 or bool(failures))
            before = len(posted)
            live.cli(env, "backup", str(out))
            after = len(posted)
            _wait_for(lambda: len(posted) >= after + 5 or bool(failures))
        finally:
            stop.set()
            thread.join(timeout=30)
    assert failures == []
    return before, after, len(posted)


@pytest.mark.server
@pytest.mark.sqlite_only
def test_sqlite_backup_taken_while_updates_are_posted_verifies(
    scratch_database_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "backup.db"
    before, after, in_all = _backup_while_posting(scratch_database_url, out)
    # The backup file is itself the database.
    _check_snapshot(_audit_verify(f"sqlite:///{out}"), scratch_database_url, before, after, in_all)


def _check_snapshot(
    verdict: dict[str, object], live_url: str, before: int, after: int, in_all: int
) -> None:
    """The backup verifies and holds the updates of a moment while they were being posted."""
    assert verdict["ok"] is True
    engine = make_engine(live_url)
    try:
        with unit_of_work(engine, write=False) as session:
            total = audit_service.verify(session).checked
    finally:
        engine.dispose()
    checked = verdict["checked"]
    assert isinstance(checked, int)
    setup_events = total - in_all  # the account, the ministry, the commitment
    assert before <= checked - setup_events <= after
    assert after < in_all


@contextmanager
def _new_postgres_database(url: str) -> Iterator[str]:
    name = f"vpi_restore_{uuid.uuid4().hex[:12]}"
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.server
@pytest.mark.postgres_only
def test_postgres_backup_taken_while_updates_are_posted_restores_and_verifies(
    scratch_database_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "backup.dump"
    before, after, in_all = _backup_while_posting(scratch_database_url, out)
    with _new_postgres_database(normalize_url(scratch_database_url)) as restore_url:
        libpq = make_url(restore_url).set(drivername="postgresql")
        restored = subprocess.run(
            [
                "pg_restore",
                "--no-owner",
                "--exit-on-error",
                f"--dbname={libpq.render_as_string(hide_password=False)}",
                str(out),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert restored.returncode == 0, restored.stderr
        verdict = _audit_verify(restore_url)
    _check_snapshot(verdict, scratch_database_url, before, after, in_all)


class TestBackupRefusals:
    def test_an_existing_file_is_not_overwritten(self, tmp_path: Path) -> None:
        out = tmp_path / "backup.db"
        out.write_text("keep me")
        with pytest.raises(BackupError, match="already exists"):
            backup(f"sqlite:///{tmp_path / 'missing.db'}", out)
        assert out.read_text() == "keep me"

    def test_a_missing_database_file_is_named(self, tmp_path: Path) -> None:
        with pytest.raises(BackupError, match="no SQLite database"):
            backup(f"sqlite:///{tmp_path / 'missing.db'}", tmp_path / "out.db")
        assert list(tmp_path.iterdir()) == []

    def test_a_missing_pg_dump_is_reported_clearly(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(shutil, "which", lambda _name: None)
        with pytest.raises(BackupError, match="pg_dump is not installed"):
            backup("postgresql+psycopg://postgres@127.0.0.1:5432/vpi", tmp_path / "b.dump")
        assert list(tmp_path.iterdir()) == []
