"""Writes to webhook subscriptions are audited like every write, but stay the secretariat's.

Each write (create, PATCH, rotate-secret, ping, retry, delete, and the worker switching a
failing subscription off) appends exactly one ``webhook_subscription.*`` event in its own
transaction; a refused write appends none. The signing secret, even encrypted, never
reaches the audit log; the events raise no notification, and outside the secretariat
neither the change feed nor the verifiable log's events show them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import Session, col, func, select

from tests.assertions import last_event, problem
from tests.credentials import NON_SECRETARIAT, auth, headers_as
from tests.factories import make_user, record_created
from tests.notifications.conftest import Stack
from tests.notifications.helpers import commitment, people, subscribe
from tests.notifications.receiver import Receiver
from vpitracker.audit import service as audit
from vpitracker.config import Settings
from vpitracker.models import AuditEvent, Ministry, OutboxEvent, User, WebhookSubscription
from vpitracker.vocab import Role

URL = "https://93.184.215.14/in"


def events_count(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(AuditEvent)).one())


class Secretariat:
    """A secretariat user writing to /v1/webhooks, checking the audit event each write adds."""

    def __init__(self, client: TestClient, session: Session, settings: Settings) -> None:
        self.client, self.session = client, session
        self.user: User = make_user(session, Role.secretariat)
        self.headers = auth(settings, self.user)
        self.secrets: list[str] = []

    def write(
        self, method: str, path: str, status: int, action: str, sub_id: Any, **kw: Any
    ) -> Any:
        before = events_count(self.session)
        headers = {**self.headers, **kw.pop("headers", {})}
        r = self.client.request(method, f"/v1/webhooks{path}", headers=headers, **kw)
        assert r.status_code == status, r.text
        assert events_count(self.session) == before + 1, action
        event = last_event(self.session)
        assert (event.action, event.entity_type, event.entity_id) == (
            f"webhook_subscription.{action}",
            "webhook_subscription",
            str(sub_id),
        )
        assert (event.actor_type, event.actor_id, event.actor_role) == (
            "user",
            self.user.id,
            "secretariat",
        )
        # No webhook about webhooks: the event queues nothing in the outbox.
        queued = select(func.count()).where(col(OutboxEvent.audit_seq) == event.seq)
        assert self.session.exec(queued).one() == 0
        body = r.json() if r.content else None
        if body and "secret" in body:
            self.secrets.append(body["secret"])
        return body, event

    def every_write(self) -> tuple[int, list[AuditEvent]]:
        """Create, edit, rotate, ping, retry the ping and delete one subscription."""
        before = events_count(self.session)
        r = self.client.post(
            "/v1/webhooks", json={"url": URL, "events": ["ping"]}, headers=self.headers
        )
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        self.secrets.append(r.json()["secret"])
        assert events_count(self.session) == before + 1
        created = last_event(self.session)
        assert created.action == "webhook_subscription.created"
        events = [created]
        _, e = self.write(
            "PATCH",
            f"/{sid}",
            200,
            "updated",
            sid,
            json={"description": "Dashboard", "events": ["commitment.created", "ping"]},
            headers={"If-Match": '"v1"'},
        )
        events.append(e)
        events.append(self.write("POST", f"/{sid}/rotate-secret", 200, "secret_rotated", sid)[1])
        ping, e = self.write("POST", f"/{sid}/ping", 202, "pinged", sid)
        events.append(e)
        events.append(
            self.write(
                "POST", f"/{sid}/deliveries/{ping['id']}/retry", 202, "delivery_retried", sid
            )[1]
        )
        events.append(self.write("DELETE", f"/{sid}", 204, "deleted", sid)[1])
        return sid, events


@pytest.fixture
def sec(client: TestClient, session: Session, settings: Settings) -> Secretariat:
    return Secretariat(client, session, settings)


class TestEveryWriteIsAudited:
    def test_each_write_appends_exactly_one_event_with_what_changed(self, sec: Secretariat) -> None:
        sid, (created, updated, rotated, pinged, retried, deleted) = sec.every_write()
        data = [audit_data(e) for e in (created, updated, rotated, pinged, retried, deleted)]
        snapshot, diff, rotation, ping, retry, last = data
        assert snapshot["url"] == URL
        assert snapshot["events"] == ["ping"]
        assert snapshot["active"] is True
        assert snapshot["created_by"] == sec.user.id
        assert diff == {
            "description": {"old": None, "new": "Dashboard"},
            "events": {"old": ["ping"], "new": ["commitment.created", "ping"]},
        }
        assert rotation == {"secret": {"old": "***", "new": "***"}}
        assert ping["delivery_id"] > 0
        assert ping["event_id"].startswith("msg_")
        assert retry["delivery_id"] == ping["delivery_id"]
        assert retry["next_attempt_at"]["new"] is not None
        # The deletion keeps the subscription's last state, at its third version.
        assert last["description"] == "Dashboard"
        assert last["version"] == 3
        assert sec.session.get(WebhookSubscription, sid) is None

    def test_a_patch_that_changes_nothing_appends_nothing(self, sec: Secretariat) -> None:
        r = sec.client.post(
            "/v1/webhooks", json={"url": URL, "events": ["ping"]}, headers=sec.headers
        )
        before = events_count(sec.session)
        same = sec.client.patch(
            f"/v1/webhooks/{r.json()['id']}",
            json={"url": URL},
            headers={**sec.headers, "If-Match": '"v1"'},
        )
        assert same.status_code == 200, same.text
        assert same.headers["ETag"] == '"v1"'
        assert events_count(sec.session) == before

    def test_refused_writes_append_nothing(
        self, sec: Secretariat, session: Session, settings: Settings
    ) -> None:
        r = sec.client.post(
            "/v1/webhooks", json={"url": URL, "events": ["ping"]}, headers=sec.headers
        )
        sid = r.json()["id"]
        others = [headers_as(session, settings, who) for who in NON_SECRETARIAT]
        before = events_count(session)
        h = sec.headers
        refused = [
            (
                sec.client.post(
                    "/v1/webhooks",
                    json={"url": "https://10.0.0.1/x", "events": ["ping"]},
                    headers=h,
                ),
                422,
            ),
            (
                sec.client.patch(
                    f"/v1/webhooks/{sid}",
                    json={"url": "https://10.0.0.1/x"},
                    headers={**h, "If-Match": '"v1"'},
                ),
                422,
            ),
            (
                sec.client.patch(
                    f"/v1/webhooks/{sid}",
                    json={"description": "x"},
                    headers={**h, "If-Match": '"v9"'},
                ),
                412,
            ),
            (sec.client.post("/v1/webhooks/424242/rotate-secret", headers=h), 404),
            (sec.client.post("/v1/webhooks/424242/ping", headers=h), 404),
            (sec.client.post(f"/v1/webhooks/{sid}/deliveries/424242/retry", headers=h), 404),
            (sec.client.delete("/v1/webhooks/424242", headers=h), 404),
        ]
        for response, status in refused:
            problem(response, status)
        for other in others:
            problem(sec.client.post(f"/v1/webhooks/{sid}/rotate-secret", headers=other), 403)
        assert events_count(session) == before

    @pytest.mark.parametrize("operation", ["create", "rotate", "delete"])
    def test_a_write_whose_transaction_fails_after_the_event_keeps_neither(
        self, sec: Secretariat, session: Session, monkeypatch: pytest.MonkeyPatch, operation: str
    ) -> None:
        """The event is written in the write's transaction: when that rolls back, both go."""
        r = sec.client.post(
            "/v1/webhooks", json={"url": URL, "events": ["ping"]}, headers=sec.headers
        )
        sid = r.json()["id"]
        stored = session.exec(
            select(WebhookSubscription.secret_encrypted).where(WebhookSubscription.id == sid)
        ).one()
        before = (
            events_count(session),
            session.exec(select(func.count()).select_from(WebhookSubscription)).one(),
        )
        real = audit.record

        def record_then_fail(*args: Any, **kwargs: Any) -> AuditEvent:
            real(*args, **kwargs)
            raise RuntimeError("the transaction fails after the audit event")

        monkeypatch.setattr(audit, "record", record_then_fail)  # the module webhooks calls
        calls: dict[str, Callable[[], Response]] = {
            "create": lambda: sec.client.post(
                "/v1/webhooks", json={"url": URL, "events": ["ping"]}, headers=sec.headers
            ),
            "rotate": lambda: sec.client.post(
                f"/v1/webhooks/{sid}/rotate-secret", headers=sec.headers
            ),
            "delete": lambda: sec.client.delete(f"/v1/webhooks/{sid}", headers=sec.headers),
        }
        assert calls[operation]().status_code == 500
        monkeypatch.undo()
        session.expire_all()
        after = (
            events_count(session),
            session.exec(select(func.count()).select_from(WebhookSubscription)).one(),
        )
        assert after == before
        kept = session.exec(
            select(WebhookSubscription.secret_encrypted).where(WebhookSubscription.id == sid)
        ).one()
        assert kept == stored


class TestTheSecretStaysOut:
    def test_no_audit_row_holds_the_secret_or_its_encryption(
        self, sec: Secretariat, session: Session
    ) -> None:
        r = sec.client.post(
            "/v1/webhooks", json={"url": URL, "events": ["ping"]}, headers=sec.headers
        )
        sid = r.json()["id"]
        sec.secrets.append(r.json()["secret"])
        encrypted = [session.get(WebhookSubscription, sid).secret_encrypted]  # type: ignore[union-attr]
        rotated = sec.client.post(f"/v1/webhooks/{sid}/rotate-secret", headers=sec.headers)
        sec.secrets.append(rotated.json()["secret"])
        session.expire_all()
        encrypted.append(session.get(WebhookSubscription, sid).secret_encrypted)  # type: ignore[union-attr]
        sec.every_write()
        assert len(set(sec.secrets)) == 4
        assert all(s.startswith("whsec_") for s in sec.secrets)
        needles = {
            *sec.secrets,
            *(s.removeprefix("whsec_") for s in sec.secrets),
            *encrypted,
            "secret_encrypted",
        }
        rows = session.exec(select(AuditEvent)).all()
        assert any(e.entity_type == "webhook_subscription" for e in rows)
        for event in rows:
            text = " ".join(str(getattr(event, c)) for c in AuditEvent.model_fields)
            for needle in needles:
                assert needle not in text, (event.seq, event.action)


class TestOnlyTheSecretariatSeesThem:
    def test_the_change_feed_and_the_log_events_hide_them_from_other_readers(
        self, sec: Secretariat, session: Session, settings: Settings
    ) -> None:
        sec.every_write()
        everything = sec.client.get("/v1/changes", params={"limit": 1000}, headers=sec.headers)
        mine = [c for c in everything.json()["items"] if c["entity_type"] == "webhook_subscription"]
        assert [c["action"].split(".")[1] for c in mine] == [
            "created",
            "updated",
            "secret_rotated",
            "pinged",
            "delivery_retried",
            "deleted",
        ]
        seq = mine[0]["seq"]
        assert sec.client.get(f"/v1/audit/events/{seq}", headers=sec.headers).status_code == 200
        for who in NON_SECRETARIAT:
            headers = headers_as(session, settings, who)
            feed = sec.client.get("/v1/changes", params={"limit": 1000}, headers=headers)
            assert feed.status_code == 200, feed.text
            seen = {c["entity_type"] for c in feed.json()["items"]}
            assert "webhook_subscription" not in seen, who
            # Nor users or keys (docs/concepts.md): only the public record.
            assert seen <= {
                "ministry",
                "provision",
                "recommendation",
                "commitment",
                "status_update",
                "assessment",
            }, who
            problem(sec.client.get(f"/v1/audit/events/{seq}", headers=headers), 404)

    def test_the_feed_cursor_still_moves_past_hidden_changes(
        self, sec: Secretariat, session: Session, settings: Settings
    ) -> None:
        member = headers_as(session, settings, "alliance_member")
        start = sec.client.get("/v1/changes", params={"limit": 1000}, headers=member).json()
        sec.every_write()
        polled = sec.client.get(
            "/v1/changes", params={"cursor": start["next_cursor"]}, headers=member
        ).json()
        assert polled["items"] == []
        assert int(polled["next_cursor"]) == last_event(session).seq


class TestTheChainVerifies:
    def test_after_every_kind_of_write(self, sec: Secretariat, session: Session) -> None:
        sec.every_write()
        result = audit.verify(session)
        assert result.ok, result.detail
        r = sec.client.get("/v1/audit/verify", headers=sec.headers)
        assert r.json()["ok"] is True, r.json()
        assert r.json()["head"]["seq"] == last_event(session).seq


def audit_data(event: AuditEvent) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(event.data)
    return data


def test_the_worker_switching_a_subscription_off_is_audited_as_the_worker(
    stack: Stack, receiver: Receiver
) -> None:
    p = people(stack)
    with stack.session() as s:
        # The factory ministries get the creation events the API would have written, so
        # the chain (which compares every ministry with its events) verifies at the end.
        record_created(s, *s.exec(select(Ministry)).all())
        s.commit()
    sub = subscribe(stack.client, p.secretariat, receiver.to("g", "410"))
    commitment(stack.client, p.secretariat, p.ministry_id)
    stack.drain()
    with stack.session() as s:
        events = s.exec(
            select(AuditEvent)
            .where(AuditEvent.entity_type == "webhook_subscription")
            .order_by(col(AuditEvent.seq))
        ).all()
        assert [e.action for e in events] == [
            "webhook_subscription.created",
            "webhook_subscription.disabled",
        ]
        disabled = events[-1]
        assert (disabled.actor_type, disabled.actor_id, disabled.entity_id) == (
            "worker",
            None,
            str(sub["id"]),
        )
        change = audit_data(disabled)
        assert change["active"] == {"old": True, "new": False}
        assert "410" in change["disabled_reason"]["new"]
        result = audit.verify(s)
        assert result.ok, result
