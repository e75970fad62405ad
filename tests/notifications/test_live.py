"""Real processes: ``vpitracker serve`` killed with SIGKILL, and two ``vpitracker worker``s."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import defaultdict
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session

from tests.factories import PASSWORD, make_user
from tests.live import LiveServer, free_port, serve, server_env
from tests.notifications.conftest import Stack
from tests.notifications.helpers import commitment, payload, people, subscribe
from tests.notifications.receiver import Receiver
from vpitracker import migrate
from vpitracker.db import make_engine
from vpitracker.vocab import Role

FAST = {
    "VPI_WEBHOOK_ALLOW_PRIVATE": "true",
    "VPI_WEBHOOK_RETRY_SCHEDULE": "1,1,1",
    "VPI_WEBHOOK_TIMEOUT_SECONDS": "2",
}


def _secretariat(database_url: str) -> str:
    """Migrate the database and give it a secretariat account; its email."""
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    with Session(engine) as session:
        email = make_user(session, Role.secretariat).email
    engine.dispose()
    return email


def _subscribe_and_write(server: LiveServer, email: str, url: str, code: str) -> None:
    """Over HTTP: subscribe ``url`` to commitment.created, then create commitment ``code``."""
    h = {"Authorization": f"Bearer {server.token(email, PASSWORD)}"}
    ministry = httpx.post(
        f"{server.url}/v1/ministries",
        json={"code": "MOI", "name": "Ministry of Interior", "kind": "ministry"},
        headers=h,
    ).json()
    r = httpx.post(
        f"{server.url}/v1/webhooks", json={"url": url, "events": ["commitment.created"]}, headers=h
    )
    assert r.status_code == 201, r.text
    r = httpx.post(
        f"{server.url}/v1/commitments",
        json={
            "code": code,
            "title": "Written by the API",
            "description": "Acknowledged, then delivered by a worker",
            "lead_ministry_id": ministry["id"],
            "due_date": "2030-12-31",
            "indicator": "Delivered",
        },
        headers=h,
    )
    assert r.status_code == 201, r.text


def test_an_event_written_just_before_kill_9_is_delivered_after_restart(
    scratch_database_url: str, receiver: Receiver
) -> None:
    email = _secretariat(scratch_database_url)
    # The in-process worker passes at start, then sleeps: the write below waits in the outbox.
    env = server_env(scratch_database_url, **FAST, VPI_WORKER_INTERVAL_SECONDS="3600")
    with serve(env) as server:
        _subscribe_and_write(server, email, receiver.to("k"), "GOK-K-1")
        server.process.kill()
        server.process.wait(10)
    assert receiver.of("k") == []
    with serve(env):
        (got,) = receiver.wait_for("k", 1, timeout=30)
    assert payload(got)["type"] == "commitment.created"
    assert payload(got)["data"]["commitment_code"] == "GOK-K-1"


def test_two_worker_processes_share_the_work_without_concurrent_duplicates(
    stack: Stack, scratch_database_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    p = people(stack)
    names = [f"s{i}" for i in range(4)]
    for name in names:
        subscribe(stack.client, p.secretariat, receiver.to(name))
    events = 12
    for _ in range(events):
        commitment(stack.client, p.secretariat, p.ministry_id)
    receiver.delay = 0.03  # widens any window in which two workers could overlap
    env = server_env(scratch_database_url, **FAST, VPI_WORKER_INTERVAL_SECONDS="0.1")
    logs = [tmp_path / f"worker{i}.log" for i in range(2)]
    procs: list[subprocess.Popen[Any]] = []
    try:
        for log in logs:
            with log.open("w") as out:
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "vpitracker", "worker"],
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=out,
                    )
                )
        for name in names:
            receiver.wait_for(name, events, timeout=60)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    by_id: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for name in names:
        got = receiver.of(name)
        seqs = [payload(g)["data"]["seq"] for g in got]
        assert seqs == sorted(seqs), f"{name} out of audit order"
        for g in got:
            by_id[(name, g.headers["webhook-id"])].append(g)
    assert len(by_id) == len(names) * events
    for key, attempts in by_id.items():
        spans = sorted((a.started, a.ended) for a in attempts)
        for (_s1, e1), (s2, _e2) in pairwise(spans):
            assert s2 >= e1, f"{key} attempted twice at the same time"
    worked = [log.read_text().count('"webhook attempt"') for log in logs]
    assert sum(worked) >= len(names) * events


def _metric(text: str, name: str) -> float | None:
    """The value of the sample ``name`` (with its labels) in Prometheus text, if present."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_serve_no_worker_delivers_nothing_and_a_worker_process_delivers_with_metrics(
    scratch_database_url: str, receiver: Receiver
) -> None:
    email = _secretariat(scratch_database_url)
    env = server_env(scratch_database_url, **FAST, VPI_WORKER_INTERVAL_SECONDS="0.1")
    with serve(env, options=("--no-worker",)) as server:
        _subscribe_and_write(server, email, receiver.to("nw"), "GOK-NW-1")
        # Thirty worker intervals: a worker in this process would have delivered by now.
        time.sleep(3)
        assert receiver.of("nw") == []
        api_metrics = httpx.get(f"{server.url}/metrics").text
        assert _metric(api_metrics, 'vpitracker_outbox_depth{stage="events"}') == 1.0

        port = free_port()
        worker = subprocess.Popen(
            [sys.executable, "-m", "vpitracker", "worker", "--metrics-port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            (got,) = receiver.wait_for("nw", 1, timeout=30)
            assert payload(got)["data"]["commitment_code"] == "GOK-NW-1"
            deadline = time.monotonic() + 10
            while True:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
                delivered = _metric(text, 'vpitracker_webhook_attempts_total{outcome="delivered"}')
                if delivered == 1.0 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert delivered == 1.0
            assert _metric(text, "vpitracker_webhook_attempt_duration_seconds_count") == 1.0
            assert _metric(text, 'vpitracker_outbox_depth{stage="events"}') == 0.0
            assert _metric(text, 'vpitracker_outbox_depth{stage="deliveries"}') == 0.0
            # Bound to 127.0.0.1 only (VPI_WORKER_METRICS_HOST): not on another address.
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"http://127.0.0.2:{port}/metrics", timeout=2)
        finally:
            worker.terminate()
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        assert worker.returncode == 0
