"""An import reads its file outside any transaction: writes and sign-ins go on meanwhile.

A real server (uvicorn, in a thread of this process) on a database of its own:
openpyxl is held while it opens the upload, so the test looks at the server exactly
while the import is reading, on SQLite (one writer at a time) and PostgreSQL.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openpyxl
import pytest
from sqlalchemy import Engine
from sqlalchemy.pool import QueuePool

from tests.conftest import test_settings
from tests.live import serve_app
from tests.transfer.helpers import PASSWORD, create_user
from vpitracker import migrate
from vpitracker.db import make_engine, unit_of_work
from vpitracker.main import create_app
from vpitracker.vocab import Role

pytestmark = pytest.mark.server

EMAIL = "secretariat@example.org"
# Long, so that a request that waited for a lock cannot pass for one that did not.
LOCK_TIMEOUT = 20.0
QUICK = 5.0


@dataclass
class Server:
    url: str
    engine: Engine


@pytest.fixture
def server(scratch_database_url: str) -> Iterator[Server]:
    engine = make_engine(scratch_database_url, lock_timeout=LOCK_TIMEOUT)
    migrate.upgrade(engine)
    with unit_of_work(engine) as s:
        create_user(s, EMAIL, Role.secretariat)
    settings = test_settings(
        database_url=scratch_database_url, database_lock_timeout_seconds=LOCK_TIMEOUT
    )
    try:
        with serve_app(create_app(settings, engine=engine)) as url:
            yield Server(url, engine)
    finally:
        engine.dispose()


def _workbook(rows: int) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "ministries"
    sheet.append(["code", "name", "kind", "parent_code", "contact_email"])
    for n in range(rows):
        sheet.append([f"IMP{n}", f"Imported {n}", "ministry", None, None])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _timed(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    started = time.monotonic()
    response = client.request(method, path, **kwargs)
    response.extensions["seconds"] = time.monotonic() - started
    return response


def test_writes_and_sign_ins_go_on_while_an_import_reads_its_file(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    reading, release = threading.Event(), threading.Event()
    original = openpyxl.load_workbook

    def held(*args: Any, **kwargs: Any) -> Any:
        reading.set()
        release.wait(60)
        return original(*args, **kwargs)

    monkeypatch.setattr(openpyxl, "load_workbook", held)
    with httpx.Client(base_url=server.url, timeout=QUICK) as client:
        signed_in = client.post("/v1/auth/token", data={"username": EMAIL, "password": PASSWORD})
        auth = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
        outcome: dict[str, httpx.Response] = {}

        def run_import() -> None:
            outcome["import"] = httpx.post(
                f"{server.url}/v1/imports/ministries",
                files={"file": ("m.xlsx", _workbook(50), "application/octet-stream")},
                headers=auth,
                timeout=60,
            )

        importer = threading.Thread(target=run_import)
        importer.start()
        try:
            assert reading.wait(20), "the import never started reading"
            # The import holds no connection while it reads: no transaction, no lock.
            pool = server.engine.pool
            assert isinstance(pool, QueuePool)
            assert pool.checkedout() == 0
            write = _timed(
                client,
                "POST",
                "/v1/ministries",
                json={"code": "WHILE", "name": "Created meanwhile", "kind": "ministry"},
                headers=auth,
            )
            good = {"username": EMAIL, "password": PASSWORD}
            sign_in = _timed(client, "POST", "/v1/auth/token", data=good)
            # A failed sign-in writes (the failure and its audit event).
            bad = {"username": EMAIL, "password": "not-the-password"}
            failed = _timed(client, "POST", "/v1/auth/token", data=bad)
            assert not outcome, "the import finished while openpyxl was held"
        finally:
            release.set()
            importer.join(60)
    assert (write.status_code, sign_in.status_code, failed.status_code) == (201, 200, 401)
    for response in (write, sign_in, failed):
        assert response.extensions["seconds"] < QUICK / 2, response.extensions
    imported = outcome["import"]
    assert imported.status_code == 200, imported.text
    assert imported.json()["counts"]["created"] == 50
