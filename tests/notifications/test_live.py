"""Real processes: ``vpitracker serve`` killed with SIGKILL, and two ``vpitracker worker``s."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session

from tests.factories import PASSWORD, make_user
from tests.live import serve, server_env
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


def test_an_event_written_just_before_kill_9_is_delivered_after_restart(
    scratch_database_url: str, receiver: Receiver
) -> None:
    engine = make_engine(scratch_database_url)
    migrate.upgrade(engine)
    with Session(engine) as session:
        email = make_user(session, Role.secretariat).email
    engine.dispose()
    # The in-process worker passes at start, then sleeps: the write below waits in the outbox.
    env = server_env(scratch_database_url, **FAST, VPI_WORKER_INTERVAL_SECONDS="3600")
    with serve(env) as server:
        h = {"Authorization": f"Bearer {server.token(email, PASSWORD)}"}
        ministry = httpx.post(
            f"{server.url}/v1/ministries",
            json={"code": "MOI", "name": "Ministry of Interior", "kind": "ministry"},
            headers=h,
        ).json()
        r = httpx.post(
            f"{server.url}/v1/webhooks",
            json={"url": receiver.to("k"), "events": ["commitment.created"]},
            headers=h,
        )
        assert r.status_code == 201, r.text
        r = httpx.post(
            f"{server.url}/v1/commitments",
            json={
                "code": "GOK-K-1",
                "title": "Survives a crash",
                "description": "Written, acknowledged, then the process dies",
                "lead_ministry_id": ministry["id"],
                "due_date": "2030-12-31",
                "indicator": "Delivered after restart",
            },
            headers=h,
        )
        assert r.status_code == 201, r.text
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
