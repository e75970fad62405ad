"""Several ``vpitracker serve`` processes started at once on an empty database.

Each one runs the migrations on start-up; the advisory lock (PostgreSQL) or the write
lock (SQLite) makes the first do the work and the others find the schema at head.
"""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest
from sqlalchemy import text

from tests.live import free_port, server_env, stop, wait_healthy
from vpitracker import migrate
from vpitracker.db import make_engine

pytestmark = pytest.mark.server

PROCESSES = 3


def test_processes_started_together_all_come_up_and_migrate_once(
    scratch_database_url: str,
) -> None:
    env = server_env(scratch_database_url)
    ports = [free_port() for _ in range(PROCESSES)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "vpitracker", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for port in ports
    ]
    try:
        for port, process in zip(ports, processes, strict=True):
            url = f"http://127.0.0.1:{port}"
            wait_healthy(url, process, timeout=120)
            assert httpx.get(f"{url}/readyz").json()["status"] == "ready"
    finally:
        for process in processes:
            stop(process)
    for port, process in zip(ports, processes, strict=True):
        assert process.stderr is not None
        log = process.stderr.read().decode()
        # every start says where the docs are, not only the one that migrated
        assert f"http://127.0.0.1:{port}/docs" in log
        assert "Traceback" not in log
        assert "IntegrityError" not in log
    engine = make_engine(scratch_database_url)
    try:
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
        assert frozenset(v for (v,) in versions) == migrate.expected_heads()
        assert len(versions) == len(migrate.expected_heads())
    finally:
        engine.dispose()
