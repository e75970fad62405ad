"""Reports stream from the database with bounded memory, a few at a time per caller.

Against a real ``vpitracker serve`` on a scratch database holding a report of
tens of megabytes, the server's resident memory while it sends the whole report
stays far below the report's size. A caller who already has its reports running
is told to come back (429 + Retry-After) while others are served.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select
from sqlmodel import Session

from tests.credentials import auth
from tests.live import LiveServer, prepare, serve
from tests.scenarios import make_scenario
from vpitracker.config import Settings
from vpitracker.db import make_engine
from vpitracker.models import Commitment, Ministry, StatusUpdate, User, table_of

UPDATES = 40_000
SUMMARY = "Progress reported to the oversight committee; " * 9  # about 420 characters
MiB = 1024 * 1024


def _load(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        secretariat = conn.execute(select(table_of(User).c.id)).scalar_one()
        now = datetime.now(UTC)
        ministry = conn.execute(
            insert(table_of(Ministry)).returning(table_of(Ministry).c.id),
            {"code": "MOI", "name": "Interior", "kind": "ministry", "created_at": now,
             "updated_at": now, "version": 1},
        ).scalar_one()  # fmt: skip
        commitments = conn.execute(
            insert(table_of(Commitment)).returning(table_of(Commitment).c.id),
            [
                {"code": f"GOK-{i:03d}", "title": f"Commitment {i}", "description": "d",
                 "lead_ministry_id": ministry, "committed_on": date(2024, 1, 1),
                 "due_date": date(2027, 1, 1), "indicator": "i", "created_at": now,
                 "updated_at": now, "version": 1}
                for i in range(20)
            ],
        ).scalars().all()  # fmt: skip
        start = datetime(2024, 1, 2, tzinfo=UTC)
        conn.execute(
            insert(table_of(StatusUpdate)),
            [
                {"commitment_id": commitments[i % 20], "ministry_id": ministry,
                 "status": "in_progress", "progress_percent": i % 100,
                 "summary": f"{i} {SUMMARY}",
                 "evidence": [{"url": f"https://example.org/{i}", "title": "t"}],
                 "reported_by": secretariat, "reported_at": start + timedelta(minutes=i),
                 "imported": False}
                for i in range(UPDATES)
            ],
        )  # fmt: skip
    engine.dispose()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from tests.conftest import database_url

    # A module-scoped scratch database: the 40,000 rows are loaded once.
    url = database_url()
    if url.startswith("postgres"):
        scratch = _scratch_postgres(url)
        target = next(scratch)
    else:
        scratch = None
        target = f"sqlite:///{tmp_path_factory.mktemp('streaming') / 'big.db'}"
    try:
        env = prepare(target)
        _load(target)
        with serve(env) as live:
            yield live
    finally:
        if scratch is not None:
            next(scratch, None)


def _scratch_postgres(url: str) -> Iterator[str]:
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from vpitracker.db import normalize_url

    base = make_url(normalize_url(url))
    name = f"vpi_stream_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _auth(server: LiveServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token()}"}


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_a_report_far_larger_than_memory_growth_streams_whole(server: LiveServer, fmt: str) -> None:
    headers = _auth(server)
    url = f"{server.url}/v1/reports/status-history"
    warm = httpx.get(url, params={"format": fmt, "commitment_id": 1}, headers=headers)
    assert warm.status_code == 200, warm.text
    pid = server.process.pid
    before = _rss(pid)
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss(pid))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    size = 0
    try:
        with httpx.stream("GET", url, params={"format": fmt}, headers=headers, timeout=120) as r:
            assert r.status_code == 200
            tail = b""
            for chunk in r.iter_bytes():
                size += len(chunk)
                tail = (tail + chunk)[-200:]
    finally:
        done.set()
        sampler.join()
    assert size > 16 * MiB, size
    if fmt == "json":
        assert tail.endswith(b'"}]')
    else:
        assert tail.endswith(b"\r\n")
    assert b"https://example.org/39999" in tail  # the newest update is the last row
    # The old in-memory report grew the server by several times the body's size.
    assert peak - before < 12 * MiB, (peak - before) / MiB


def test_a_caller_with_its_reports_running_gets_429_others_are_served(
    client: TestClient, session: Session, settings: Settings
) -> None:
    scenario = make_scenario(session, 3)
    member, viewer = auth(settings, scenario.member), auth(settings, scenario.officer)
    slots = client.app.state.report_slots  # type: ignore[attr-defined]
    held = [slots.acquire(f"user:{scenario.member.id}") for _ in range(slots.per_caller)]
    try:
        for path in ("commitments", "recommendations", "status-history"):
            refused = client.get(f"/v1/reports/{path}", headers=member)
            assert refused.status_code == 429, refused.text
            assert int(refused.headers["Retry-After"]) >= 1
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert client.get(f"/v1/reports/{path}", headers=viewer).status_code == 200
        # A refused request takes no slot; the viewer's finished reports gave theirs back.
        assert slots.running(f"user:{scenario.member.id}") == slots.per_caller
        assert slots.running(f"user:{scenario.officer.id}") == 0
    finally:
        for release in held:
            release()
    assert client.get("/v1/reports/commitments", headers=member).status_code == 200
    assert slots.running(f"user:{scenario.member.id}") == 0
