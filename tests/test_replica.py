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
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

from tests.assertions import problem
from tests.conftest import database_url, test_settings
from tests.credentials import auth
from tests.factories import make_commitment, make_ministry, make_user, record_created
from tests.live import free_port
from vpitracker import migrate, replicas
from vpitracker.db import database_problem, make_engine, normalize_url
from vpitracker.errors import ReplicaBusy
from vpitracker.main import create_app
from vpitracker.ministries import service as ministries_service
from vpitracker.models import ApiKey, Ministry, User
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


def _primary_with_a_ministry(url: str) -> tuple[Engine, Ministry, User]:
    """A migrated primary with one ministry and a secretariat user."""
    primary = make_engine(url)
    migrate.upgrade(primary)
    with Session(primary, expire_on_commit=False) as s:
        return primary, make_ministry(s), make_user(s, Role.secretariat)


@contextmanager
def _app_reading(read_url: str, primary_url: str) -> Iterator[TestClient]:
    settings = test_settings(database_url=primary_url, read_database_url=read_url)
    app = create_app(settings)
    client = TestClient(app, raise_server_exceptions=False)
    try:
        yield client
    finally:
        client.close()
        app.state.read_engine.dispose()
        app.state.engine.dispose()


@pytest.mark.postgres_only
def test_readyz_reports_the_standby_and_its_lag(
    standby: Standby, scratch_database_url: str
) -> None:
    primary = make_engine(scratch_database_url)
    migrate.upgrade(primary)
    standby.caught_up(primary)
    try:
        with _app_reading(standby.url(scratch_database_url), scratch_database_url) as client:
            r = client.get("/readyz")
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "ready"
            replica = r.json()["read_replica"]
            assert replica["status"] == "ok", replica
            assert replica["lag_bytes"] >= 0
            assert replica["lag_seconds"] >= 0
            with standby.paused():
                with Session(primary) as s:
                    make_ministry(s)
                r = client.get("/readyz")
                assert r.status_code == 200, r.text  # a lagging replica never fails readiness
                replica = r.json()["read_replica"]
                assert replica["status"] == "paused", replica
                assert replica["lag_bytes"] > 0, replica
                assert replica["lag_seconds"] >= 0, replica
            standby.caught_up(primary)
            replica = client.get("/readyz").json()["read_replica"]
            assert replica["status"] == "ok", replica
    finally:
        primary.dispose()


@pytest.mark.postgres_only
def test_a_replica_that_is_down_keeps_readyz_ready_and_its_reads_are_503(
    scratch_database_url: str,
) -> None:
    primary, ministry, secretariat = _primary_with_a_ministry(scratch_database_url)
    nowhere = make_url(scratch_database_url).set(host="127.0.0.1", port=free_port())
    try:
        with _app_reading(
            nowhere.render_as_string(hide_password=False), scratch_database_url
        ) as client:
            r = client.get("/readyz")
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "ready"
            assert r.json()["read_replica"]["status"] == "unavailable"
            h = auth(client.app.state.settings, secretariat)  # type: ignore[attr-defined]
            body = problem(client.get("/v1/ministries", headers=h), 503)
            assert body["type"].endswith("replica-busy"), body
            assert "replica" in body["detail"]
            # Single records read the primary.
            assert client.get(f"/v1/ministries/{ministry.id}", headers=h).status_code == 200
    finally:
        primary.dispose()


@pytest.mark.postgres_only
def test_a_read_cancelled_by_a_recovery_conflict_is_503_with_retry_after(
    standby: Standby, scratch_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real conflict: the standby is told to cancel at once (max_standby_streaming_delay
    = 0) any query holding a lock that a replayed ACCESS EXCLUSIVE lock needs."""
    primary, _, secretariat = _primary_with_a_ministry(scratch_database_url)
    standby.caught_up(primary)
    real = ministries_service.list_ministries

    def slow(session: Session, **kwargs: Any) -> Any:
        # Holds ministry's ACCESS SHARE lock on the standby while it sleeps.
        session.execute(text("SELECT pg_sleep(10) FROM ministry LIMIT 1"))
        return real(session, **kwargs)

    def lock_on_primary() -> None:
        time.sleep(1.5)
        with primary.begin() as conn:
            conn.execute(text("LOCK TABLE ministry IN ACCESS EXCLUSIVE MODE"))

    monkeypatch.setattr(ministries_service, "list_ministries", slow)
    with standby.admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ALTER SYSTEM SET max_standby_streaming_delay = 0"))
        conn.execute(text("SELECT pg_reload_conf()"))
    locker = threading.Thread(target=lock_on_primary)
    try:
        with _app_reading(standby.url(scratch_database_url), scratch_database_url) as client:
            h = auth(client.app.state.settings, secretariat)  # type: ignore[attr-defined]
            locker.start()
            started = time.monotonic()
            r = client.get("/v1/ministries", headers=h)
            assert time.monotonic() - started < 9, "the read was not cancelled"
            body = problem(r, 503)
            assert body["type"].endswith("replica-busy"), body
            assert r.headers["Retry-After"] == "1"
    finally:
        locker.join()
        with standby.admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ALTER SYSTEM RESET max_standby_streaming_delay"))
            conn.execute(text("SELECT pg_reload_conf()"))
        primary.dispose()


def _driver_error(exc: Exception) -> DBAPIError:
    return DBAPIError("SELECT …", {}, exc)


class TestRecoveryConflictsAreNotWriteConflicts:
    """The driver's error raised by hand (the real conflict is tested above, on PostgreSQL)."""

    CONFLICT = psycopg.errors.SerializationFailure(
        "canceling statement due to conflict with recovery\n"
        "DETAIL:  User query might have needed to see row versions that must be removed."
    )

    def test_database_problem_tells_them_apart(self) -> None:
        recovery = _driver_error(self.CONFLICT)
        concurrent = _driver_error(
            psycopg.errors.SerializationFailure(
                "could not serialize access due to concurrent update"
            )
        )
        assert isinstance(database_problem(recovery), ReplicaBusy)
        assert isinstance(database_problem(concurrent, replica_read=True), ReplicaBusy)
        assert database_problem(concurrent).status == 409

    def test_a_replica_read_cancelled_is_503_with_retry_after_and_a_primary_one_409(
        self, monkeypatch: pytest.MonkeyPatch, scratch_database_url: str
    ) -> None:
        settings = test_settings(database_url=scratch_database_url)
        app = create_app(settings)
        # As if VPI_READ_DATABASE_URL were set: another engine on the same database.
        app.state.read_engine = make_engine(settings.database_url)
        migrate.upgrade(app.state.engine)
        with Session(app.state.engine, expire_on_commit=False) as s:
            ministry = make_ministry(s)
            h = auth(settings, make_user(s, Role.secretariat))
        concurrent = psycopg.errors.SerializationFailure("could not serialize access")

        def cancelled(*_args: Any, **_kwargs: Any) -> Any:
            raise _driver_error(concurrent)

        monkeypatch.setattr(ministries_service, "list_ministries", cancelled)
        monkeypatch.setattr(ministries_service, "get", cancelled)
        try:
            with TestClient(app, raise_server_exceptions=False) as client:
                r = client.get("/v1/ministries", headers=h)
                body = problem(r, 503)
                assert body["type"].endswith("replica-busy"), body
                assert "read replica" in body["detail"]
                assert r.headers["Retry-After"] == "1"
                # The same error on a read of the primary is still a conflict.
                problem(client.get(f"/v1/ministries/{ministry.id}", headers=h), 409)
        finally:
            app.state.read_engine.dispose()
            app.state.engine.dispose()


def test_every_replica_route_is_a_route_of_the_app() -> None:
    from vpitracker.web.router import router as pages

    app = create_app(test_settings())
    found = set(app.openapi()["paths"]) | {getattr(r, "path", "") for r in pages.routes}
    assert replicas.REPLICA_ROUTES <= found, replicas.REPLICA_ROUTES - found
