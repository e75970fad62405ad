"""Email through a real SMTP server (aiosmtpd): disputes, digests, opting out."""

from __future__ import annotations

import time
from typing import Any

from tests.factories import status_update_body
from tests.live import cli, server_env
from tests.notifications.conftest import Mailbox, Stack
from tests.notifications.helpers import People, commitment, people


def dispute(stack: Stack, p: People, ministry_id: int, **fields: Any) -> dict[str, Any]:
    c = commitment(stack.client, p.secretariat, ministry_id, **fields)
    r = stack.client.post(
        f"/v1/commitments/{c['id']}/assessments",
        json={"verdict": "disputes", "assessed_status": "stalled", "rationale": "Nothing moved"},
        headers=p.member,
    )
    assert r.status_code == 201, r.text
    return c


def wait_mail(box: Mailbox, address: str, count: int = 1) -> list[Any]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(box.to(address)) < count:
        time.sleep(0.02)
    return box.to(address)


class TestDisputeMail:
    def test_officers_of_the_ministry_get_plain_and_html_with_a_link(
        self, stack_factory: Any, mailbox: tuple[Mailbox, int]
    ) -> None:
        stack: Stack = stack_factory(public_url="https://vpi.example.org")
        p = people(stack)
        c = dispute(stack, p, p.ministry_id)
        stack.drain()
        box, _port = mailbox
        (msg,) = wait_mail(box, p.officer_email)
        assert msg["Subject"] == f"The alliance disputes {c['code']}"
        assert msg["From"] == stack.settings.mail_from
        text = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        assert "Nothing moved" in text
        assert f"https://vpi.example.org/commitments/{c['id']}" in text
        assert f'href="https://vpi.example.org/commitments/{c["id"]}"' in html

    def test_officers_of_other_ministries_and_opted_out_officers_get_none(
        self, stack: Stack, mailbox: tuple[Mailbox, int]
    ) -> None:
        p = people(stack)
        me = stack.client.get("/v1/me", headers=p.officer)
        r = stack.client.patch(
            "/v1/me",
            json={"notify": {"disputes": False}},
            headers={**p.officer, "If-Match": me.headers["ETag"]},
        )
        assert r.status_code == 200, r.text
        dispute(stack, p, p.ministry_id)
        dispute(stack, p, p.other_ministry_id)
        stack.drain()
        time.sleep(0.3)
        box, _port = mailbox
        assert box.to(p.officer_email) == []

    def test_no_smtp_configured_sends_nothing(
        self, stack_factory: Any, mailbox: tuple[Mailbox, int]
    ) -> None:
        stack: Stack = stack_factory(smtp_url=None)
        p = people(stack)
        dispute(stack, p, p.ministry_id)
        stack.drain()
        time.sleep(0.3)
        assert mailbox[0].messages == []
        assert "SMTP is not configured" in stack.client.get("/readyz").json()["mail"]


class TestDigest:
    def test_digest_send_dry_run_prints_and_sends_nothing(
        self, stack: Stack, scratch_database_url: str, mailbox: tuple[Mailbox, int]
    ) -> None:
        p = people(stack)
        dispute(stack, p, p.ministry_id, committed_on="2020-01-01", due_date="2021-01-01")
        env = server_env(scratch_database_url, VPI_SMTP_URL=f"smtp://127.0.0.1:{mailbox[1]}")
        out = cli(env, "digest", "send", "--dry-run")
        assert f"To: {p.officer_email}" in out
        assert "Overdue (1)" in out
        assert "Disputed, awaiting your reply (1)" in out
        assert f"To: {p.secretariat_email}" in out
        assert "2 digest(s) would be sent" in out
        assert mailbox[0].messages == []

    def test_digest_send_mails_each_reader(
        self, stack: Stack, scratch_database_url: str, mailbox: tuple[Mailbox, int]
    ) -> None:
        p = people(stack)
        c = commitment(stack.client, p.secretariat, p.ministry_id, due_date="2030-01-01")
        r = stack.client.post(
            f"/v1/commitments/{c['id']}/status-updates",
            json=status_update_body(),
            headers=p.officer,
        )
        assert r.status_code == 201
        env = server_env(scratch_database_url, VPI_SMTP_URL=f"smtp://127.0.0.1:{mailbox[1]}")
        out = cli(env, "digest", "send")
        # The officer has nothing needing attention: only the secretariat's summary goes out.
        assert "1 of 1 digest(s) sent" in out
        (msg,) = wait_mail(mailbox[0], p.secretariat_email)
        text = msg.get_body(("plain",)).get_content()
        assert "Commitments: 1" in text
        assert "status_update.posted: 1" in text
        assert mailbox[0].to(p.officer_email) == []

    def test_the_weekly_schedule_queues_once_per_week(
        self, stack_factory: Any, mailbox: tuple[Mailbox, int]
    ) -> None:
        # Monday 00:00 in Nairobi: this week's moment has always passed.
        stack: Stack = stack_factory(digest_weekday=0, digest_hour=0)
        p = people(stack)
        stack.drain()
        (first,) = wait_mail(mailbox[0], p.secretariat_email)
        assert first["Subject"] == "vpitracker: the alliance's week"
        stack_factory(digest_weekday=0, digest_hour=0).drain()
        time.sleep(0.3)
        assert len(mailbox[0].to(p.secretariat_email)) == 1
