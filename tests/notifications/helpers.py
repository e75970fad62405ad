"""People, a ministry and commitments in a notification test's committed database."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from tests.credentials import auth
from tests.factories import make_ministry, make_user, unique
from tests.notifications.conftest import Stack
from vpitracker.vocab import Role


@dataclass
class People:
    secretariat: dict[str, str]
    secretariat_email: str
    officer: dict[str, str]
    officer_email: str
    member: dict[str, str]
    ministry_id: int
    other_ministry_id: int


def people(stack: Stack) -> People:
    with stack.session() as s:
        ministry, other = make_ministry(s), make_ministry(s)
        sec = make_user(s, Role.secretariat)
        officer = make_user(s, Role.government_officer, ministries=[ministry])
        member = make_user(s, Role.alliance_member)
        assert ministry.id is not None
        assert other.id is not None
        return People(
            auth(stack.settings, sec),
            sec.email,
            auth(stack.settings, officer),
            officer.email,
            auth(stack.settings, member),
            ministry.id,
            other.id,
        )


def subscribe(
    client: TestClient,
    headers: dict[str, str],
    url: str,
    events: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body = {"url": url, "events": events or ["commitment.created"], **extra}
    r = client.post("/v1/webhooks", json=body, headers=headers)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


def commitment(
    client: TestClient, headers: dict[str, str], ministry_id: int, **fields: Any
) -> dict[str, Any]:
    body = {
        "code": unique("GOK-N-"),
        "title": "Anti-trafficking bill tabled",
        "description": "The bill reaches Parliament",
        "lead_ministry_id": ministry_id,
        "due_date": "2030-12-31",
        "indicator": "Bill published in the Gazette",
        **fields,
    }
    r = client.post("/v1/commitments", json=body, headers=headers)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


def payload(received: Any) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(received.body)
    return value
