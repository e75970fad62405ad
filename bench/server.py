"""A real ``vpitracker serve`` process on a free loopback port.

Starting a server process, waiting until it answers and stopping it are written once
here, for the bench's servers (the API, the framework floor) and tests/live.py.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

LOOPBACK = "127.0.0.1"
SECRETARIAT_EMAIL = "bench-secretariat@bench.example.org"
# Not derived from the email: the password rules refuse one that contains it.
SECRETARIAT_PASSWORD = "quiet-harness-7Kq-long-walk"
# Worker processes each import and build the app: on a busy 2-core machine with
# --workers 2 that alone took more than 90 s.
STARTUP_SECONDS = 300


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def server_env(database_url: str, secret_key: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"VPI_ENV": "test", "VPI_SECRET_KEY": secret_key, "VPI_DATABASE_URL": database_url})
    return env


def new_secret_key() -> str:
    return secrets.token_urlsafe(48)


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "vpitracker", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"vpitracker {' '.join(args)} failed: {done.stderr}")
    return done.stdout


def create_secretariat(env: dict[str, str]) -> int:
    """The secretariat account, through the CLI as an operator would create it."""
    out = cli(
        env,
        "users", "create", "--email", SECRETARIAT_EMAIL, "--role", "secretariat",
        "--full-name", "Bench Secretariat", "--password-stdin",
        stdin=SECRETARIAT_PASSWORD + "\n",
    )  # fmt: skip
    return int(json.loads(out.strip().splitlines()[-1])["id"])


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]

    def token(self) -> str:
        r = httpx.post(
            f"{self.url}/v1/auth/token",
            data={"username": SECRETARIAT_EMAIL, "password": SECRETARIAT_PASSWORD},
            timeout=30,
        )
        r.raise_for_status()
        return str(r.json()["access_token"])


def wait_healthy(
    url: str,
    process: subprocess.Popen[bytes],
    timeout: float = 60,
    *,
    log_path: Path | None = None,
) -> None:
    """Return once ``url``/healthz answers 200; fail if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            see = f"; see {log_path}" if log_path else ""
            raise RuntimeError(f"the server did not come up (exit {process.poll()}){see}")
        time.sleep(0.2)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def started(
    argv: list[str], port: int, log_path: Path, *, env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``argv`` (serving on loopback ``port``, output to ``log_path``): its URL and process
    once it answers ``/healthz``; stopped on exit."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://{LOOPBACK}:{port}"
        try:
            wait_healthy(url, process, STARTUP_SECONDS, log_path=log_path)
            yield url, process
        finally:
            stop(process)


@contextmanager
def serve(
    env: dict[str, str], log_path: Path, *, workers: int = 1, launcher: str | None = None
) -> Iterator[LiveServer]:
    """``launcher``: a bench module whose ``late`` command runs the CLI changed for a test."""
    port = free_port()
    program = ["-m", launcher, "late"] if launcher else ["-m", "vpitracker"]
    argv = [sys.executable, *program, "serve", "--host", LOOPBACK,
            "--port", str(port), "--workers", str(workers)]  # fmt: skip
    with started(argv, port, log_path, env=env) as (url, process):
        yield LiveServer(url=url, process=process)
