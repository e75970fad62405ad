"""Start a real ``vpitracker serve`` process on a free port (for tests and load runs)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

# Starting, waiting for and stopping a server process: shared with the bench's servers.
from bench.server import free_port as free_port
from bench.server import stop as stop
from bench.server import wait_healthy as wait_healthy

from tests.conftest import TEST_LOG_KEY, TEST_LOG_ORIGIN, TEST_SECRET

SECRETARIAT_EMAIL = "secretariat@example.org"
SECRETARIAT_PASSWORD = "live-server-password"


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "VPI_ENV": "test",
            "VPI_SECRET_KEY": TEST_SECRET,
            "VPI_DATABASE_URL": database_url,
            "VPI_LOG_ORIGIN": TEST_LOG_ORIGIN,
            "VPI_LOG_SIGNING_KEY": TEST_LOG_KEY,
            **extra,
        }
    )
    return env


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "vpitracker", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"vpitracker {' '.join(args)} failed: {done.stderr}")
    return done.stdout


@dataclass
class LiveServer:
    url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]

    def token(self, email: str = SECRETARIAT_EMAIL, password: str = SECRETARIAT_PASSWORD) -> str:
        r = httpx.post(f"{self.url}/v1/auth/token", data={"username": email, "password": password})
        r.raise_for_status()
        return str(r.json()["access_token"])


def prepare(database_url: str, **extra: str) -> dict[str, str]:
    """Migrate a database and give it a secretariat account."""
    env = server_env(database_url, **extra)
    cli(env, "db", "upgrade")
    cli(
        env,
        "users", "create", "--email", SECRETARIAT_EMAIL, "--role", "secretariat",
        "--password-stdin",
        stdin=SECRETARIAT_PASSWORD + "\n",
    )  # fmt: skip
    return env


@contextmanager
def serve(
    env: dict[str, str], *, workers: int = 1, options: tuple[str, ...] = ()
) -> Iterator[LiveServer]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "vpitracker", "serve", "--port", str(port),
         "--workers", str(workers), *options],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield LiveServer(url=url, env=env, process=process)
    finally:
        stop(process)


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn in a thread of this process (its URL): a real server
    whose code a test can still reach into (hold a function, look at the pool)."""
    import threading

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the in-process server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
