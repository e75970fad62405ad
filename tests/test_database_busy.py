"""A write that cannot get its lock in time answers 503 with Retry-After, never 500 or a hang.

A real server whose settings say VPI_DATABASE_LOCK_TIMEOUT_SECONDS=1 (its engine
built from them); another connection holds the lock a new ministry needs
(SQLite's write lock; PostgreSQL's lock on the table).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.assertions import problem
from tests.conftest import test_settings
from tests.live import serve_app
from tests.transfer.helpers import PASSWORD, create_user
from vpitracker import migrate
from vpitracker.db import make_engine, unit_of_work
from vpitracker.main import create_app
from vpitracker.vocab import Role

pytestmark = pytest.mark.server


@contextmanager
def locked(database_url: str) -> Iterator[None]:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        conn = sqlite3.connect(url.database, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as pg:
        pg.execute("LOCK TABLE ministry IN EXCLUSIVE MODE")
        yield
        pg.rollback()


def test_the_lock_timeout_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VPI_DATABASE_LOCK_TIMEOUT_SECONDS", "1.5")
    assert test_settings().database_lock_timeout_seconds == 1.5


def test_a_locked_database_answers_503_with_retry_after(scratch_database_url: str) -> None:
    engine = make_engine(scratch_database_url)
    migrate.upgrade(engine)
    with unit_of_work(engine) as s:
        create_user(s, "secretariat@example.org", Role.secretariat)
    engine.dispose()
    settings = test_settings(database_url=scratch_database_url, database_lock_timeout_seconds=1)
    app = create_app(settings)
    with serve_app(app) as url, httpx.Client(base_url=url, timeout=15) as client:
        _refused_while_locked(client, scratch_database_url)
    app.state.engine.dispose()


def _refused_while_locked(client: httpx.Client, database_url: str) -> None:
    credentials = {"username": "secretariat@example.org", "password": PASSWORD}
    token = client.post("/v1/auth/token", data=credentials).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    body = {"code": "BUSY", "name": "Waits for the lock", "kind": "ministry"}
    with locked(database_url):
        started = time.monotonic()
        r = client.post("/v1/ministries", json=body, headers=auth)
        waited = time.monotonic() - started
        sw = client.post("/v1/ministries", json=body, headers={**auth, "Accept-Language": "sw"})
    refused = problem(r, 503)
    assert int(r.headers["Retry-After"]) >= 1
    assert "nothing was saved" in refused["detail"]
    assert 0.9 < waited < 10, waited
    assert problem(sw, 503)["detail"] != refused["detail"]
    codes = [m["code"] for m in client.get("/v1/ministries", headers=auth).json()["items"]]
    assert "BUSY" not in codes
    # The lock gone, the same request goes through.
    assert client.post("/v1/ministries", json=body, headers=auth).status_code == 201
