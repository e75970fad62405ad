"""Signed webhook delivery through the outbox and the worker, to a real receiver."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlmodel import func, select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.factories import status_update_body
from tests.notifications.conftest import Mailbox, Stack
from tests.notifications.helpers import commitment, payload, people, subscribe
from tests.notifications.receiver import Receiver
from vpitracker.models import AuditEvent, OutboxEvent


class TestSignedDelivery:
    def test_standard_webhooks_verifier_accepts_the_signature(
        self, stack: Stack, receiver: Receiver
    ) -> None:
        p = people(stack)
        sub = subscribe(stack.client, p.secretariat, receiver.to("a"), ["status_update.posted"])
        c = commitment(stack.client, p.secretariat, p.ministry_id)
        r = stack.client.post(
            f"/v1/commitments/{c['id']}/status-updates",
            json=status_update_body(),
            headers=p.officer,
        )
        assert r.status_code == 201, r.text
        stack.drain()
        (got,) = receiver.wait_for("a", 1)
        verified = Webhook(sub["secret"]).verify(got.body, got.headers)
        assert verified["type"] == "status_update.posted"
        with stack.session() as s:
            event = s.exec(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()  # type: ignore[attr-defined]
        assert event is not None
        assert verified["data"]["seq"] == event.seq
        assert verified["data"]["hash"] == event.hash
        assert verified["data"]["entity"]["id"] == r.json()["id"]
        assert set(verified) == {"type", "timestamp", "data"}

    def test_a_tampered_body_or_another_secret_fails_verification(
        self, stack: Stack, receiver: Receiver
    ) -> None:
        p = people(stack)
        sub = subscribe(stack.client, p.secretariat, receiver.to("a"))
        other = subscribe(stack.client, p.secretariat, receiver.to("b"))
        commitment(stack.client, p.secretariat, p.ministry_id)
        stack.drain()
        (got,) = receiver.wait_for("a", 1)
        with pytest.raises(WebhookVerificationError):
            Webhook(sub["secret"]).verify(got.body.replace("GOK", "XXX"), got.headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(other["secret"]).verify(got.body, got.headers)

    def test_retries_keep_the_webhook_id_and_the_deliveries_show_attempts(
        self, stack: Stack, receiver: Receiver
    ) -> None:
        p = people(stack)
        sub = subscribe(stack.client, p.secretariat, receiver.to("f", "flaky"))
        commitment(stack.client, p.secretariat, p.ministry_id)
        stack.drain(1)
        time.sleep(1.2)  # the schedule's first delay (1 s, plus at most 10% jitter)
        stack.drain(1)
        first, second = receiver.wait_for("f", 2)
        assert first.headers["webhook-id"] == second.headers["webhook-id"]
        assert first.body == second.body
        Webhook(sub["secret"]).verify(second.body, second.headers)
        r = stack.client.get(f"/v1/webhooks/{sub['id']}/deliveries", headers=p.secretariat)
        (delivery,) = r.json()["items"]
        assert delivery["attempts"] == 2
        assert delivery["last_status_code"] == 204
        assert delivery["delivered_at"] is not None
        assert delivery["event_id"] == first.headers["webhook-id"]

    def test_the_secret_is_shown_once_and_rotation_changes_it(
        self, stack: Stack, receiver: Receiver
    ) -> None:
        p = people(stack)
        sub = subscribe(stack.client, p.secretariat, receiver.to("r", "ok"), ["ping"])
        assert sub["secret"].startswith("whsec_")
        read = stack.client.get(f"/v1/webhooks/{sub['id']}", headers=p.secretariat).json()
        assert "secret" not in read
        rotated = stack.client.post(
            f"/v1/webhooks/{sub['id']}/rotate-secret", headers=p.secretariat
        ).json()
        assert rotated["secret"] != sub["secret"]
        r = stack.client.post(f"/v1/webhooks/{sub['id']}/ping", headers=p.secretariat)
        assert r.status_code == 202, r.text
        stack.drain()
        (got,) = receiver.wait_for("r", 1)
        assert payload(got)["type"] == "ping"
        Webhook(rotated["secret"]).verify(got.body, got.headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(sub["secret"]).verify(got.body, got.headers)

    def test_the_secret_is_not_stored_in_plain_text(self, stack: Stack, receiver: Receiver) -> None:
        p = people(stack)
        sub = subscribe(stack.client, p.secretariat, receiver.to("s"))
        with stack.session() as s:
            stored = (
                s.exec(select(OutboxEvent.id)).all(),
                s.connection()
                .exec_driver_sql("SELECT secret_encrypted FROM webhook_subscription")
                .scalar_one(),
            )
        secret_body = sub["secret"].removeprefix("whsec_")
        assert secret_body not in stored[1]
        assert sub["secret"] not in stored[1]


class TestEvents:
    def test_the_catalogue_arrives_in_audit_order(self, stack: Stack, receiver: Receiver) -> None:
        p = people(stack)
        every = [
            "commitment.created",
            "commitment.updated",
            "status_update.posted",
            "assessment.posted",
            "commitment.disputed",
            "commitment.replied",
        ]
        subscribe(stack.client, p.secretariat, receiver.to("all"), every)
        c = commitment(stack.client, p.secretariat, p.ministry_id)
        etag = stack.client.get(f"/v1/commitments/{c['id']}", headers=p.secretariat).headers["ETag"]
        r = stack.client.patch(
            f"/v1/commitments/{c['id']}",
            json={"title": "Bill passed"},
            headers={**p.secretariat, "If-Match": etag},
        )
        assert r.status_code == 200, r.text
        upd = stack.client.post(
            f"/v1/commitments/{c['id']}/status-updates",
            json=status_update_body(),
            headers=p.officer,
        ).json()
        dispute = stack.client.post(
            f"/v1/commitments/{c['id']}/assessments",
            json={
                "verdict": "disputes",
                "assessed_status": "not_started",
                "rationale": "No bill was tabled",
                "status_update_id": upd["id"],
            },
            headers=p.member,
        ).json()
        reply = stack.client.post(
            f"/v1/commitments/{c['id']}/status-updates",
            json=status_update_body(in_reply_to_assessment_id=dispute["id"]),
            headers=p.officer,
        )
        assert reply.status_code == 201, reply.text
        stack.drain()
        got = receiver.wait_for("all", 7)
        bodies = [payload(g) for g in got]
        assert [b["type"] for b in bodies] == [
            "commitment.created",
            "commitment.updated",
            "status_update.posted",
            "assessment.posted",
            "commitment.disputed",
            "status_update.posted",
            "commitment.replied",
        ]
        seqs = [b["data"]["seq"] for b in bodies]
        assert seqs == sorted(seqs)
        assert bodies[1]["data"]["entity"]["title"] == {
            "old": "Anti-trafficking bill tabled",
            "new": "Bill passed",
        }

    def test_a_refused_write_sends_nothing(self, stack: Stack, receiver: Receiver) -> None:
        p = people(stack)
        subscribe(stack.client, p.secretariat, receiver.to("x"), ["status_update.posted"])
        # The officer's ministry is not this commitment's: the write is refused.
        c = commitment(stack.client, p.secretariat, p.other_ministry_id)
        with stack.session() as s:
            before = s.exec(select(func.count()).select_from(OutboxEvent)).one()
        r = stack.client.post(
            f"/v1/commitments/{c['id']}/status-updates",
            json=status_update_body(),
            headers=p.officer,
        )
        assert r.status_code == 403, r.text
        stack.drain()
        with stack.session() as s:
            assert s.exec(select(func.count()).select_from(OutboxEvent)).one() == before
        time.sleep(0.2)
        assert receiver.of("x") == []

    def test_ministry_filter_and_event_filter(self, stack: Stack, receiver: Receiver) -> None:
        p = people(stack)
        subscribe(stack.client, p.secretariat, receiver.to("mine"), ministry_ids=[p.ministry_id])
        subscribe(stack.client, p.secretariat, receiver.to("updates"), ["status_update.posted"])
        subscribe(stack.client, p.secretariat, receiver.to("any"))
        commitment(stack.client, p.secretariat, p.other_ministry_id)
        commitment(stack.client, p.secretariat, p.ministry_id)
        stack.drain()
        receiver.wait_for("any", 2)
        (mine,) = receiver.wait_for("mine", 1)
        assert payload(mine)["data"]["ministry_ids"] == [p.ministry_id]
        assert receiver.of("updates") == []


class TestFaults:
    def test_bad_receivers_never_block_a_good_one_and_end_disabled(
        self, stack: Stack, receiver: Receiver, mailbox: tuple[Mailbox, int]
    ) -> None:
        p = people(stack)
        bad = {
            mode: subscribe(stack.client, p.secretariat, receiver.to(mode, mode))
            for mode in ("500", "301", "hang", "reset")
        }
        subscribe(stack.client, p.secretariat, receiver.to("good"))
        # A 2xx with a 10 MB body: delivered, the body is not read to its end.
        big = subscribe(stack.client, p.secretariat, receiver.to("big", "big"))
        started = time.monotonic()
        commitment(stack.client, p.secretariat, p.ministry_id)
        stack.worker.run_once()
        receiver.wait_for("good", 1)
        # The hanging receiver costs its own thread the 1 s timeout, not the others.
        assert time.monotonic() - started < 3
        # 1 attempt + 3 retries 1 s apart; then each is disabled.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            stack.worker.run_once()
            states = [
                stack.client.get(f"/v1/webhooks/{s['id']}", headers=p.secretariat).json()
                for s in bad.values()
            ]
            if not any(st["active"] for st in states):
                break
            time.sleep(0.2)
        for mode, state in zip(bad, states, strict=True):
            assert state["active"] is False, mode
            assert "retry schedule" in state["disabled_reason"], (mode, state)
            assert len(receiver.of(mode)) == 4, mode
        assert receiver.of("redirected") == []  # 301 is not followed
        assert len(receiver.of("big")) == 1
        big_state = stack.client.get(f"/v1/webhooks/{big['id']}", headers=p.secretariat).json()
        assert big_state["active"] is True
        stack.worker.run_once()
        box, _port = mailbox
        subjects = {m["Subject"] for m in box.to(p.secretariat_email)}
        assert {f"Webhook {s['id']} was disabled" for s in bad.values()} <= subjects
        # The API answered throughout.
        assert stack.client.get("/healthz").status_code == 200

    def test_410_disables_at_once(self, stack: Stack, receiver: Receiver) -> None:
        p = people(stack)
        sub = subscribe(stack.client, p.secretariat, receiver.to("g", "410"))
        commitment(stack.client, p.secretariat, p.ministry_id)
        stack.drain()
        assert len(receiver.of("g")) == 1
        state = stack.client.get(f"/v1/webhooks/{sub['id']}", headers=p.secretariat).json()
        assert state["active"] is False
        assert "410" in state["disabled_reason"]

    def test_re_enabling_resumes_the_kept_deliveries(
        self, stack: Stack, receiver: Receiver
    ) -> None:
        p = people(stack)
        sub = subscribe(stack.client, p.secretariat, receiver.to("g", "410"))
        commitment(stack.client, p.secretariat, p.ministry_id)
        stack.drain()
        r = stack.client.get(f"/v1/webhooks/{sub['id']}", headers=p.secretariat)
        r = stack.client.patch(
            f"/v1/webhooks/{sub['id']}",
            json={"active": True, "url": receiver.to("g", "ok")},
            headers={**p.secretariat, "If-Match": r.headers["ETag"]},
        )
        assert r.status_code == 200, r.text
        assert r.json()["disabled_reason"] is None
        stack.drain()
        g = receiver.wait_for("g", 2)
        assert g[0].headers["webhook-id"] == g[1].headers["webhook-id"]

    def test_deleting_a_subscription_drops_its_pending_deliveries(
        self, stack: Stack, receiver: Receiver
    ) -> None:
        p = people(stack)
        sub = subscribe(stack.client, p.secretariat, receiver.to("d", "500"))
        commitment(stack.client, p.secretariat, p.ministry_id)
        stack.drain(1)
        r = stack.client.delete(f"/v1/webhooks/{sub['id']}", headers=p.secretariat)
        assert r.status_code == 204
        time.sleep(1.2)
        stack.drain()
        assert len(receiver.of("d")) == 1
        assert (
            stack.client.get(f"/v1/webhooks/{sub['id']}", headers=p.secretariat).status_code == 404
        )


class TestManualRetry:
    def test_retry_sends_a_delivered_event_again(self, stack: Stack, receiver: Receiver) -> None:
        p = people(stack)
        sub = subscribe(stack.client, p.secretariat, receiver.to("m"))
        commitment(stack.client, p.secretariat, p.ministry_id)
        stack.drain()
        (delivery,) = stack.client.get(
            f"/v1/webhooks/{sub['id']}/deliveries", headers=p.secretariat
        ).json()["items"]
        r = stack.client.post(
            f"/v1/webhooks/{sub['id']}/deliveries/{delivery['id']}/retry", headers=p.secretariat
        )
        assert r.status_code == 202, r.text
        stack.drain()
        first, again = receiver.wait_for("m", 2)
        assert first.headers["webhook-id"] == again.headers["webhook-id"]
        missing = stack.client.post(
            f"/v1/webhooks/{sub['id']}/deliveries/999999/retry", headers=p.secretariat
        )
        assert missing.status_code == 404


def test_api_without_worker_is_unaffected(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
