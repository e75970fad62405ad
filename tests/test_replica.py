"""VPI_READ_DATABASE_URL: dashboard reads from a real hot standby, the rest from the primary.

The standby is ``pg_basebackup -R`` of the test cluster, started with ``pg_ctl`` on a
free port (as the ``postgres`` user when the tests run as root). ``.ci/run`` lets the
primary accept the replication connection; under ``VPI_REQUIRE_POSTGRES=1`` a standby
that cannot start fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

from tests.conftest import database_url, test_settings
from tests.credentials import auth
from tests.factories import make_commitment, make_ministry, make_user, record_created
from tests.live import free_port
from vpitracker import migrate, replicas
from vpitracker.db import make_engine, normalize_url
from vpitracker.main import create_app
from vpitracker.models import ApiKey
from vpitracker.vocab import Role

BIN = Path("/usr/lib/postgresql/15/bin")
# Hot standby refuses to start with less of these than its primary has.
_MATCH_PRIMARY = (
    "max_connections",
    "max_worker_processes",
    "max_wal_senders",
    "max_prepared_transactions",
    "max_locks_per_transaction",
)


def _as_postgres(*argv: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else list(argv)


@dataclass
class Standby:
    port: int
    admin: Engine  # its "postgres" database

    def url(self, primary_url: str) -> str:
        return (
            make_url(primary_url)
            .set(host="127.0.0.1", port=self.port)
            .render_as_string(hide_password=False)
        )

    def caught_up(self, primary: Engine, timeout: float = 60) -> None:
        """Wait until the standby has replayed everything the primary has written so far."""
        with primary.connect() as conn:
            lsn = conn.execute(text("SELECT pg_current_wal_lsn()")).scalar_one()
        deadline = time.monotonic() + timeout
        while True:
            with self.admin.connect() as conn:
                done = conn.execute(
                    text("SELECT pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn)"), {"lsn": lsn}
                ).scalar()
            if done:
                return
            assert time.monotonic() < deadline, "the standby did not catch up"
            time.sleep(0.05)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Replay paused: what the primary writes meanwhile is not on the standby."""
        with self.admin.connect() as conn:
            conn.execute(text("SELECT pg_wal_replay_pause()"))
        try:
            yield
        finally:
            with self.admin.connect() as conn:
                conn.execute(text("SELECT pg_wal_replay_resume()"))


def _start_standby(directory: Path, primary_url: str) -> int:
    primary = make_url(primary_url)
    with make_engine(primary_url).connect() as conn:
        matched = {name: conn.execute(text(f"SHOW {name}")).scalar_one() for name in _MATCH_PRIMARY}
    run = {"check": True, "capture_output": True, "text": True, "timeout": 600}
    subprocess.run(
        _as_postgres(
            str(BIN / "pg_basebackup"), "-h", str(primary.host or "127.0.0.1"),
            "-p", str(primary.port or 5432), "-U", str(primary.username or "postgres"),
            "-D", str(directory), "-R", "-X", "stream", "--checkpoint=fast", "--no-sync",
        ),
        **run,  # type: ignore[call-overload]
    )  # fmt: skip
    port = free_port()
    settings = {
        "port": str(port),
        "listen_addresses": "'127.0.0.1'",
        "unix_socket_directories": f"'{directory}'",
        "hot_standby": "on",
        "hot_standby_feedback": "on",
        "fsync": "off",
        **matched,
    }
    # Debian keeps the primary's configuration outside its data directory: write one.
    with (directory / "postgresql.conf").open("a") as conf:
        conf.writelines(f"{k} = {v}\n" for k, v in settings.items())
    (directory / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")
    (directory / "pg_ident.conf").write_text("")
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        for name in ("postgresql.conf", "pg_hba.conf", "pg_ident.conf"):
            os.chown(directory / name, owner.pw_uid, owner.pw_gid)
    subprocess.run(
        _as_postgres(
            str(BIN / "pg_ctl"), "-D", str(directory), "-l", str(directory / "standby.log"),
            "-w", "-t", "120", "start",
        ),
        **run,  # type: ignore[call-overload]
    )  # fmt: skip
    return port


@pytest.fixture(scope="module")
def standby() -> Iterator[Standby]:
    url = normalize_url(database_url())
    if not url.startswith("postgresql"):
        pytest.skip("PostgreSQL only (set VPI_TEST_DATABASE_URL)")
    directory = Path(tempfile.mkdtemp(prefix="vpi-standby-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(directory, owner.pw_uid, owner.pw_gid)
    started = False
    try:
        try:
            port = _start_standby(directory, url)
            started = True
        except (subprocess.CalledProcessError, OSError, KeyError) as exc:
            detail = getattr(exc, "stderr", "") or str(exc)
            log = directory / "standby.log"
            if log.exists():
                detail += log.read_text()[-2000:]
            message = f"cannot start a hot standby of the test cluster: {detail}"
            if os.environ.get("VPI_REQUIRE_POSTGRES") == "1":
                pytest.fail(message)
            pytest.skip(message)
        admin = make_engine(
            make_url(url)
            .set(host="127.0.0.1", port=port, database="postgres")
            .render_as_string(hide_password=False)
        )
        yield Standby(port, admin)
        admin.dispose()
    finally:
        if started:
            subprocess.run(
                _as_postgres(str(BIN / "pg_ctl"), "-D", str(directory), "-m", "fast", "-w", "stop"),
                check=False,
                capture_output=True,
                timeout=120,
            )
        shutil.rmtree(directory, ignore_errors=True)


def _codes(answer: object) -> set[str]:
    return {item["code"] for item in answer.json()["items"]}  # type: ignore[attr-defined]


@pytest.mark.postgres_only
def test_dashboards_read_the_standby_and_everything_else_the_primary(
    standby: Standby, scratch_database_url: str
) -> None:
    primary = make_engine(scratch_database_url)
    migrate.upgrade(primary)
    with Session(primary, expire_on_commit=False) as s:
        ministry = make_ministry(s)
        secretariat = make_user(s, Role.secretariat)
        commitment = make_commitment(s, lead=ministry)
        record_created(s, ministry, commitment)  # so that the chain verifies below
        old = commitment.code
    standby.caught_up(primary)
    settings = test_settings(
        database_url=scratch_database_url,
        read_database_url=standby.url(scratch_database_url),
        public_read=True,
    )
    app = create_app(settings)
    client = TestClient(app)
    h = auth(settings, secretariat)
    try:
        # The read connection is the standby's, and it refuses writes.
        with app.state.read_engine.connect() as conn:
            assert conn.execute(text("SELECT pg_is_in_recovery()")).scalar_one() is True
            with pytest.raises(DBAPIError, match="read-only transaction"):
                conn.execute(text("UPDATE ministry SET name = 'written on a replica'"))
        with app.state.engine.connect() as conn:
            assert conn.execute(text("SELECT pg_is_in_recovery()")).scalar_one() is False

        with standby.paused():
            r = client.post(
                "/v1/commitments",
                json={
                    "code": "GOK-R-NEW",
                    "title": "Written while the standby waits",
                    "description": "On the primary only, for now",
                    "lead_ministry_id": ministry.id,
                    "due_date": "2030-12-31",
                    "indicator": "Seen by dashboards after replay",
                },
                headers=h,
            )
            assert r.status_code == 201, r.text  # writes go to the primary
            new_id = r.json()["id"]
            r = client.post("/v1/api-keys", json={"name": "dashboard"}, headers=h)
            assert r.status_code == 201, r.text
            key = r.json()["key"]

            # Dashboard reads come from the standby: the new commitment is not there yet.
            assert _codes(client.get("/v1/commitments", headers=h)) == {old}
            assert client.get("/v1/progress/summary", headers=h).json()["commitments"] == 1
            report = client.get("/v1/reports/commitments?format=csv", headers=h).text
            assert old in report
            assert "GOK-R-NEW" not in report
            page = client.get("/commitments").text
            assert old in page
            assert "GOK-R-NEW" not in page
            # The scorecard too, though a standby can make no temporary table for it.
            scorecard = client.get("/")
            assert scorecard.status_code == 200, scorecard.text
            assert client.get("/v1/progress/summary", headers=h).json()["commitments"] == 1

            # A single record, /v1/me and the audit verification read the primary.
            assert client.get(f"/v1/commitments/{new_id}", headers=h).status_code == 200
            verified = client.get("/v1/audit/verify", headers=h).json()
            with primary.connect() as conn:
                events = conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one()
            assert verified["ok"] is True
            assert verified["checked"] == events

            # A key that exists only on the primary authenticates a standby read: credentials
            # are checked, and last_used_at written, on the primary.
            r = client.get("/v1/progress/summary", params={"api_key": key})
            assert r.status_code == 200, r.text
            with Session(primary) as s:
                used = s.exec(select(ApiKey.last_used_at).where(ApiKey.name == "dashboard")).one()
            assert used is not None

        standby.caught_up(primary)
        assert _codes(client.get("/v1/commitments", headers=h)) == {old, "GOK-R-NEW"}
        assert client.get("/v1/progress/summary", headers=h).json()["commitments"] == 2
    finally:
        client.close()
        app.state.read_engine.dispose()
        app.state.engine.dispose()
        primary.dispose()


def test_every_replica_route_is_a_route_of_the_app() -> None:
    from vpitracker.web.router import router as pages

    app = create_app(test_settings())
    found = set(app.openapi()["paths"]) | {getattr(r, "path", "") for r in pages.routes}
    assert replicas.REPLICA_ROUTES <= found, replicas.REPLICA_ROUTES - found
