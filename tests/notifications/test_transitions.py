"""Overdue and stale commitments are announced once per occurrence, across restarts."""

from __future__ import annotations

from typing import Any

from tests.notifications.conftest import Stack
from tests.notifications.helpers import commitment, payload, people, subscribe
from tests.notifications.receiver import Receiver


def test_overdue_is_announced_once_across_a_restart(stack_factory: Any, receiver: Receiver) -> None:
    stack: Stack = stack_factory()
    p = people(stack)
    subscribe(
        stack.client, p.secretariat, receiver.to("t"), ["commitment.overdue", "commitment.stale"]
    )
    late = commitment(
        stack.client, p.secretariat, p.ministry_id, committed_on="2020-01-01", due_date="2021-06-30"
    )
    commitment(stack.client, p.secretariat, p.ministry_id, due_date="2031-01-01")
    stack.drain()
    got = receiver.wait_for("t", 2)
    bodies = sorted((payload(g) for g in got), key=lambda b: str(b["type"]))
    assert [b["type"] for b in bodies] == ["commitment.overdue", "commitment.stale"]
    assert all(b["data"]["commitment_id"] == late["id"] for b in bodies)
    assert bodies[0]["data"]["entity"]["since"] == "2021-06-30"
    # A new worker process (a restart) scans at start and finds nothing new.
    restarted: Stack = stack_factory()
    restarted.drain()
    stack.drain()
    assert len(receiver.of("t")) == 2


def test_a_new_due_date_that_passes_is_a_new_occurrence(
    stack_factory: Any, receiver: Receiver
) -> None:
    stack: Stack = stack_factory()
    p = people(stack)
    subscribe(stack.client, p.secretariat, receiver.to("o"), ["commitment.overdue"])
    c = commitment(
        stack.client, p.secretariat, p.ministry_id, committed_on="2020-01-01", due_date="2021-01-01"
    )
    stack.drain()
    receiver.wait_for("o", 1)
    etag = stack.client.get(f"/v1/commitments/{c['id']}", headers=p.secretariat).headers["ETag"]
    r = stack.client.patch(
        f"/v1/commitments/{c['id']}",
        json={"due_date": "2022-01-01"},
        headers={**p.secretariat, "If-Match": etag},
    )
    assert r.status_code == 200, r.text
    stack_factory().drain()
    second = receiver.wait_for("o", 2)[1]
    assert payload(second)["data"]["entity"]["since"] == "2022-01-01"
