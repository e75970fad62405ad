"""The hash-chained audit trail: appends, listing and verification (docs/concepts.md)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from itertools import pairwise
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, col, select

from tests.assertions import problem
from tests.credentials import auth, headers_as
from tests.factories import (
    PASSWORD,
    assessment_body,
    make_ministry,
    make_user,
    status_update_body,
    unique,
)
from vpitracker.audit import service as audit_service
from vpitracker.auth.service import account_key
from vpitracker.config import Settings
from vpitracker.models import AuditEvent, Ministry
from vpitracker.vocab import Role

GENESIS = "0" * 64


def audit_rows(session: Session) -> list[AuditEvent]:
    session.expire_all()
    return list(session.exec(select(AuditEvent).order_by(col(AuditEvent.seq))).all())


def event_count(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(AuditEvent)).one())


def all_events(client: TestClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    """Every event through ``GET /v1/audit/events``, following the cursor."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        r = client.get("/v1/audit/events", params=query, headers=headers)
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return items


def independent_hash(prev_hash: str, event: dict[str, Any]) -> str:
    """SHA-256 of prev_hash and the canonical JSON of the event, as docs/concepts.md defines it."""
    at = datetime.fromisoformat(event["at"]).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    payload = {
        "seq": event["seq"],
        "at": at,
        "actor": event["actor"],
        "action": event["action"],
        "entity_type": event["entity_type"],
        "entity_id": event["entity_id"],
        "data": event["data"],
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


class Scenario:
    """A secretariat and an officer writing through the API, as the chain's tests need."""

    def __init__(
        self, client: TestClient, session: Session, settings: Settings, *, audited: bool = False
    ) -> None:
        # audited: the lead ministry is created over the API (event 1), as verification
        # needs (a row no event covers does not verify); else it is written directly.
        self.client = client
        self.settings = settings
        self.sec = make_user(session, Role.secretariat)
        self.member = make_user(session, Role.alliance_member)
        if audited:
            self.lead = session.get_one(Ministry, self.ministry("Lead ministry")["id"])
        else:
            self.lead = make_ministry(session)
        self.officer = make_user(session, Role.government_officer, ministries=[self.lead])

    def created(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        r = self.client.post(path, json=body, headers=headers)
        assert r.status_code == 201, r.text
        created: dict[str, Any] = r.json()
        return created

    def ministry(self, name: str = "Ministry of Interior") -> dict[str, Any]:
        body = {"code": unique("AUD"), "name": name, "kind": "ministry"}
        return self.created("/v1/ministries", body, auth(self.settings, self.sec))

    def commitment(self) -> dict[str, Any]:
        body = {
            "code": unique("AUD-C-"),
            "title": "Set up the counter-trafficking unit",
            "description": "A dedicated unit in the DCI",
            "lead_ministry_id": self.lead.id,
            "due_date": "2030-12-31",
            "indicator": "Unit gazetted and staffed",
        }
        return self.created("/v1/commitments", body, auth(self.settings, self.sec))

    def update(self, commitment: dict[str, Any], **fields: Any) -> dict[str, Any]:
        return self.created(
            f"/v1/commitments/{commitment['id']}/status-updates",
            status_update_body(**fields),
            auth(self.settings, self.officer),
        )

    def assess(self, commitment: dict[str, Any], **fields: Any) -> dict[str, Any]:
        return self.created(
            f"/v1/commitments/{commitment['id']}/assessments",
            assessment_body(**fields),
            auth(self.settings, self.member),
        )

    def verify(self, **params: Any) -> dict[str, Any]:
        r = self.client.get(
            "/v1/audit/verify", params=params, headers=auth(self.settings, self.member)
        )
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


class TestAppend:
    def test_each_write_appends_exactly_one_event_with_its_action(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        world = Scenario(client, session, settings)
        sec_headers = auth(settings, world.sec)
        # The scenario's accounts were created first, each with its event.
        before = event_count(session)
        expected: list[tuple[str, str, str]] = []

        def appended(action: str, entity_type: str, entity_id: object) -> None:
            expected.append((action, entity_type, str(entity_id)))
            rows = audit_rows(session)
            assert len(rows) == before + len(expected)
            assert (rows[-1].action, rows[-1].entity_type, rows[-1].entity_id) == expected[-1]

        ministry = world.ministry()
        appended("ministry.created", "ministry", ministry["id"])
        commitment = world.commitment()
        appended("commitment.created", "commitment", commitment["id"])
        r = client.patch(
            f"/v1/commitments/{commitment['id']}",
            json={"title": "Set up and fund the counter-trafficking unit"},
            headers={**sec_headers, "If-Match": '"v1"'},
        )
        assert r.status_code == 200, r.text
        appended("commitment.updated", "commitment", commitment["id"])
        update = world.update(commitment)
        appended("status_update.posted", "status_update", update["id"])
        assessment = world.assess(commitment, status_update_id=update["id"], verdict="disputes")
        appended("assessment.posted", "assessment", assessment["id"])
        r = client.post(
            "/v1/auth/token", data={"username": world.officer.email, "password": "wrong-password"}
        )
        assert r.status_code == 401
        appended("user.login_failed", "user", world.officer.id)
        r = client.post(f"/v1/commitments/{commitment['id']}/archive", headers=sec_headers)
        assert r.status_code == 200, r.text
        appended("commitment.archived", "commitment", commitment["id"])

        rows = audit_rows(session)
        assert [e.seq for e in rows] == list(range(1, before + len(expected) + 1))
        assert rows[0].prev_hash == GENESIS
        for earlier, later in pairwise(rows):
            assert later.prev_hash == earlier.hash
        assert len({e.hash for e in rows}) == len(rows)

    def test_events_carry_the_actor_and_the_new_state(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        world = Scenario(client, session, settings)
        before = event_count(session)
        commitment = world.commitment()
        r = client.patch(
            f"/v1/commitments/{commitment['id']}",
            json={"due_date": "2031-06-30"},
            headers={**auth(settings, world.sec), "If-Match": '"v1"'},
        )
        assert r.status_code == 200, r.text
        update = world.update(commitment, summary="Unit gazetted — staffing under way")

        created, edited, posted = all_events(client, auth(settings, world.sec))[before:]

        assert created["actor"] == {"type": "user", "id": world.sec.id, "role": "secretariat"}
        assert created["data"]["code"] == commitment["code"]
        assert created["data"]["lead_ministry_id"] == world.lead.id
        assert edited["data"] == {"due_date": {"old": "2030-12-31", "new": "2031-06-30"}}
        assert posted["actor"] == {
            "type": "user",
            "id": world.officer.id,
            "role": "government_officer",
        }
        assert posted["data"]["summary"] == "Unit gazetted — staffing under way"
        assert posted["data"]["id"] == update["id"]
        assert posted["data"]["ministry_id"] == world.lead.id
        assert posted["at"].endswith("Z")

    def test_a_failed_login_is_recorded_with_no_actor(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        sec = make_user(session, Role.secretariat)
        before = event_count(session)

        r = client.post(
            "/v1/auth/token", data={"username": "nobody@example.org", "password": PASSWORD}
        )

        problem(r, 401)
        (event,) = all_events(client, auth(settings, sec))[before:]
        assert event["action"] == "user.login_failed"
        assert event["actor"] == {"type": "anonymous", "id": None, "role": None}
        # What was typed is kept only as a keyed hash: it may have been a password.
        assert event["data"]["account"] == account_key(settings, "nobody@example.org")
        assert "nobody" not in json.dumps(event)

    def test_reads_and_refused_writes_append_nothing(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        world = Scenario(client, session, settings)
        commitment = world.commitment()
        stranger = make_user(session, Role.government_officer, ministries=[make_ministry(session)])
        before = event_count(session)

        read = client.get(f"/v1/commitments/{commitment['id']}", headers=auth(settings, world.sec))
        assert read.status_code == 200
        r = client.post(
            f"/v1/commitments/{commitment['id']}/status-updates",
            json=status_update_body(),
            headers=auth(settings, stranger),
        )
        problem(r, 403)
        r = client.post(
            "/v1/ministries",
            json={"code": "X", "kind": "ministry"},
            headers=auth(settings, world.sec),
        )
        problem(r, 422)

        assert event_count(session) == before

    def test_the_hash_is_sha256_of_prev_hash_and_canonical_json(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        world = Scenario(client, session, settings)
        world.ministry(name="Wizara ya Mambo ya Ndani — “Interior”")
        commitment = world.commitment()
        world.update(commitment, evidence=[{"url": "https://example.org/a", "title": "Ripoti"}])

        events = all_events(client, auth(settings, world.sec))

        prev_hash = GENESIS
        for event in events:
            assert event["prev_hash"] == prev_hash
            assert event["hash"] == independent_hash(prev_hash, event)
            prev_hash = event["hash"]
        stored = audit_rows(session)
        assert [(e.seq, e.hash) for e in stored] == [(e["seq"], e["hash"]) for e in events]


class TestEventsEndpoint:
    def test_pages_by_seq(self, client: TestClient, session: Session, settings: Settings) -> None:
        world = Scenario(client, session, settings)
        for _ in range(5):
            world.ministry()
        headers = auth(settings, world.sec)
        total = event_count(session)
        assert total == 3 + 5  # the scenario's three accounts, then the five ministries

        first = client.get("/v1/audit/events", params={"limit": 2}, headers=headers)

        assert first.status_code == 200, first.text
        assert [e["seq"] for e in first.json()["items"]] == [1, 2]
        assert first.json()["next_cursor"] == "2"
        assert 'rel="next"' in first.headers["Link"]
        assert [e["seq"] for e in all_events(client, headers, limit=2)] == list(range(1, total + 1))
        last = client.get("/v1/audit/events", params={"cursor": str(total - 1)}, headers=headers)
        assert [e["seq"] for e in last.json()["items"]] == [total]
        assert last.json()["next_cursor"] is None

    @pytest.mark.parametrize("who", ["alliance_member", "government_officer", "viewer", "api_key"])
    def test_only_the_secretariat_reads_the_log(
        self, client: TestClient, session: Session, settings: Settings, who: str
    ) -> None:
        problem(client.get("/v1/audit/events", headers=headers_as(session, settings, who)), 403)

    def test_a_malformed_cursor_is_422(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        sec = make_user(session, Role.secretariat)

        r = client.get("/v1/audit/events", params={"cursor": "abc"}, headers=auth(settings, sec))

        problem(r, 422)


class TestVerifyEndpoint:
    def test_an_empty_chain_verifies(self, session: Session) -> None:
        # Over HTTP the verifier's own account is an event already: the service, then.
        result = audit_service.verify(session)

        assert result.ok is True
        assert result.checked == 0
        assert (result.head_seq, result.head_hash) == (0, GENESIS)
        assert result.first_bad_seq is None

    def test_a_chain_of_only_its_verifiers_creation_verifies(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        member = make_user(session, Role.alliance_member)

        r = client.get("/v1/audit/verify", headers=auth(settings, member))

        result = r.json()
        assert result["ok"] is True, result
        assert result["checked"] == result["head"]["seq"] == 1
        assert result["first_bad_seq"] is None

    @pytest.mark.parametrize("role", [Role.secretariat, Role.alliance_member])
    def test_an_intact_chain_verifies_and_names_its_head(
        self, client: TestClient, session: Session, settings: Settings, role: Role
    ) -> None:
        world = Scenario(client, session, settings, audited=True)
        before = event_count(session)
        commitment = world.commitment()
        update = world.update(commitment)
        world.assess(commitment, status_update_id=update["id"])
        verifier = make_user(session, role)

        r = client.get("/v1/audit/verify", headers=auth(settings, verifier))

        assert r.status_code == 200, r.text
        head = audit_rows(session)[-1]
        # Three writes and the verifier's account after the scenario's own events.
        assert r.json() == {
            "ok": True,
            "checked": before + 4,
            "head": {"seq": before + 4, "hash": head.hash},
            "first_bad_seq": None,
            "detail": r.json()["detail"],
            "entity_type": None,
            "entity_id": None,
        }

    @pytest.mark.parametrize("who", ["government_officer", "viewer", "api_key"])
    def test_others_may_not_verify(
        self, client: TestClient, session: Session, settings: Settings, who: str
    ) -> None:
        problem(client.get("/v1/audit/verify", headers=headers_as(session, settings, who)), 403)

    def test_a_published_head_still_verifies_after_more_writes(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        world = Scenario(client, session, settings, audited=True)
        commitment = world.commitment()
        world.update(commitment)
        published = world.verify()["head"]

        world.assess(commitment)
        world.ministry()

        result = world.verify(from_seq=published["seq"], expected_hash=published["hash"])
        assert result["ok"] is True
        assert result["head"]["seq"] == published["seq"] + 2
        assert result["first_bad_seq"] is None

    def test_a_published_head_with_another_hash_fails_at_its_seq(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        world = Scenario(client, session, settings, audited=True)
        world.commitment()
        world.ministry()
        published = world.verify()["head"]
        world.ministry()
        wrong = hashlib.sha256(b"another history").hexdigest()

        result = world.verify(from_seq=published["seq"], expected_hash=wrong)

        assert result["ok"] is False
        assert result["first_bad_seq"] == published["seq"]

    def test_a_published_head_beyond_the_chain_fails(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        world = Scenario(client, session, settings, audited=True)
        world.ministry()
        world.ministry()
        head = event_count(session)

        result = world.verify(from_seq=head + 2, expected_hash="a" * 64)

        assert result["ok"] is False
        assert result["first_bad_seq"] == head + 1

    @pytest.mark.parametrize(
        "params",
        [{"from_seq": 1}, {"expected_hash": "a" * 64}, {"from_seq": 1, "expected_hash": "xyz"}],
    )
    def test_an_incomplete_published_head_is_422(
        self, client: TestClient, session: Session, settings: Settings, params: dict[str, Any]
    ) -> None:
        sec = make_user(session, Role.secretariat)

        problem(client.get("/v1/audit/verify", params=params, headers=auth(settings, sec)), 422)
