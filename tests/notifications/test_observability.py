"""Metrics and logs of delivery, and the outbox's retention."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import func, select

from tests.notifications.conftest import Stack
from tests.notifications.helpers import commitment, people, subscribe
from tests.notifications.receiver import Receiver
from vpitracker.models import OutboxEvent
from vpitracker.notifications import metrics, transitions
from vpitracker.notifications.worker import Worker
from vpitracker.observability import JsonFormatter


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def log_lines() -> Iterator[Lines]:
    handler = Lines()
    logger = logging.getLogger("vpitracker.notifications")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def test_metrics_show_depth_attempts_and_latency(stack: Stack, receiver: Receiver) -> None:
    p = people(stack)
    subscribe(stack.client, p.secretariat, receiver.to("m", "500"))
    commitment(stack.client, p.secretariat, p.ministry_id)
    text = stack.client.get("/metrics").text
    assert 'vpitracker_outbox_depth{stage="events"} 1.0' in text
    stack.drain(1)
    text = stack.client.get("/metrics").text
    assert 'vpitracker_outbox_depth{stage="events"} 0.0' in text
    assert 'vpitracker_outbox_depth{stage="deliveries"} 1.0' in text
    assert 'vpitracker_webhook_attempts_total{outcome="http_error"}' in text
    assert "vpitracker_webhook_attempt_duration_seconds_count" in text


def test_each_attempt_is_logged_without_secret_or_signature(
    stack: Stack, receiver: Receiver, log_lines: Lines
) -> None:
    p = people(stack)
    sub = subscribe(stack.client, p.secretariat, receiver.to("l"))
    commitment(stack.client, p.secretariat, p.ministry_id)
    stack.drain()
    (got,) = receiver.wait_for("l", 1)
    attempts = [line for line in log_lines.lines if '"webhook attempt"' in line]
    assert len(attempts) == 1
    assert '"outcome": "delivered"' in attempts[0]
    everything = "\n".join(log_lines.lines)
    assert sub["secret"] not in everything
    assert sub["secret"].removeprefix("whsec_") not in everything
    assert got.headers["webhook-signature"].split(",", 1)[1] not in everything


def test_delivered_events_are_purged_after_the_retention(
    stack_factory: object, receiver: Receiver
) -> None:
    stack: Stack = stack_factory(outbox_retention_days=0)  # type: ignore[operator]
    p = people(stack)
    subscribe(stack.client, p.secretariat, receiver.to("ok"))
    subscribe(stack.client, p.secretariat, receiver.to("down", "500"))
    commitment(stack.client, p.secretariat, p.ministry_id)
    stack.drain()
    receiver.wait_for("ok", 1)
    transitions.scan(stack.engine, stack.settings)
    with stack.session() as s:
        # Still owed to the failing receiver: kept.
        assert s.exec(select(func.count()).select_from(OutboxEvent)).one() == 1
    r = stack.client.get("/v1/webhooks", headers=p.secretariat).json()["items"]
    down = next(x for x in r if x["url"].endswith("/down/500"))
    assert (
        stack.client.delete(f"/v1/webhooks/{down['id']}", headers=p.secretariat).status_code == 204
    )
    transitions.scan(stack.engine, stack.settings)
    with stack.session() as s:
        assert s.exec(select(func.count()).select_from(OutboxEvent)).one() == 0


def _delivered_count() -> float:
    (family,) = metrics.ATTEMPTS.collect()
    return sum(
        s.value
        for s in family.samples
        if s.name.endswith("_total") and s.labels.get("outcome") == "delivered"
    )


def test_an_attempt_is_counted_only_once_its_outcome_is_committed(
    stack: Stack, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A scrape between the count and the commit would show the delivery both counted as
    # delivered and still waiting in the outbox depth.
    p = people(stack)
    subscribe(stack.client, p.secretariat, receiver.to("c"))
    commitment(stack.client, p.secretariat, p.ministry_id)
    before = _delivered_count()
    seen_while_recording: list[float] = []
    record = Worker._record

    def spy(self: Worker, *args: Any) -> None:
        seen_while_recording.append(_delivered_count())
        record(self, *args)

    monkeypatch.setattr(Worker, "_record", spy)
    stack.drain()
    receiver.wait_for("c", 1)
    assert seen_while_recording == [before]
    assert _delivered_count() == before + 1
