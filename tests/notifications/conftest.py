"""A committed database, the app and a worker on it, a receiver and an SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from tests.conftest import scratch_database, test_settings
from tests.live import free_port
from tests.notifications import receiver as receiver_module
from vpitracker import migrate
from vpitracker.config import Settings
from vpitracker.db import make_engine
from vpitracker.main import create_app
from vpitracker.notifications.worker import Worker


@dataclass
class Mailbox:
    messages: list[Any] = field(default_factory=list)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        from email import message_from_bytes, policy

        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def to(self, address: str) -> list[Any]:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def scratch_database_url(tmp_path: Path) -> Iterator[str]:
    """Every test here migrates its scratch database first: it starts as a copy of one
    migrated once per session (tests/conftest.py), not migrated again per test."""
    with scratch_database(tmp_path, migrated=True) as url:
        yield url


@pytest.fixture
def receiver() -> Iterator[receiver_module.Receiver]:
    with receiver_module.running() as r:
        yield r


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@dataclass
class Stack:
    engine: Engine
    settings: Settings
    client: TestClient
    worker: Worker

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def drain(self, passes: int = 3) -> None:
        for _ in range(passes):
            self.worker.run_once()
            self.worker.settle()


def notify_settings(url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": url,
        "webhook_allow_private": True,
        "webhook_retry_schedule": "1,1,1",
        "webhook_timeout_seconds": 1.0,
        "worker_interval_seconds": 0.1,
        # A digest moment far in the week's future, so no digest interferes by default.
        "digest_weekday": 6,
        "digest_hour": 23,
    }
    values.update(overrides)
    return test_settings(**values)


@pytest.fixture
def stack_factory(scratch_database_url: str, mailbox: tuple[Mailbox, int]) -> Iterator[Any]:
    engine = make_engine(scratch_database_url)
    migrate.upgrade(engine)
    made: list[Stack] = []

    def make(**overrides: Any) -> Stack:
        overrides.setdefault("smtp_url", f"smtp://127.0.0.1:{mailbox[1]}")
        settings = notify_settings(scratch_database_url, **overrides)
        client = TestClient(create_app(settings, engine=engine), raise_server_exceptions=False)
        stack = Stack(engine, settings, client, Worker(engine, settings))
        made.append(stack)
        return stack

    try:
        yield make
    finally:
        for stack in made:
            stack.worker.close()
            stack.client.close()
        engine.dispose()


@pytest.fixture
def stack(stack_factory: Any) -> Stack:
    built: Stack = stack_factory()
    return built
