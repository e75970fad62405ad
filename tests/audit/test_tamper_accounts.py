"""Users, API keys and webhook subscriptions edited behind the API's back are caught.

Verification replays each account's, key's and subscription's events and compares the
state they leave with the row (docs/concepts.md): an edit in SQL is reported at the
record's newest event, naming it; a row no event covers at the first event that covers a
later row of its kind, or past the head. Secrets are in no event, and what use changes
without an event (a key's ``last_used_at``, a subscription's failure count and lease) is
left out. Expected seqs are looked up from the audit rows, never hard-coded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from tests.audit.test_tamper import (
    caught_at,
    caught_past_the_head,
    cli_pointed_at,
    event_count,
    named,
    run_verify,
    tamper,
    verify,
)
from tests.credentials import auth
from tests.factories import PASSWORD, make_user, make_webhook, unique
from vpitracker.config import Settings
from vpitracker.kernel.credentials import api_key_digest
from vpitracker.models import ApiKey, AuditEvent, User, WebhookSubscription
from vpitracker.notifications import webhooks
from vpitracker.vocab import Role

URL = "https://93.184.215.14/in"
NEW_PASSWORD = "a different and long passphrase"


@dataclass
class Accounts:
    """What an administration cycle wrote through the API (and the worker)."""

    headers: dict[str, str]
    secretariat_id: int
    ministry_id: int
    officer_id: int
    key_id: int
    revoked_key_id: int
    key: str
    subscription_id: int
    disabled_subscription_id: int
    deleted_subscription_id: int


def write_accounts(client: TestClient, session: Session, settings: Settings) -> Accounts:
    """A user created, edited, given a new password and deactivated; keys created, used and
    revoked; subscriptions created, edited, re-keyed, pinged, disabled and deleted."""
    sec = make_user(session, Role.secretariat)
    headers = auth(settings, sec)

    def call(method: str, path: str, status: int, **kw: Any) -> Any:
        r = client.request(method, path, headers={**headers, **kw.pop("headers", {})}, **kw)
        assert r.status_code == status, r.text
        return r.json() if r.content else None

    ministry = call(
        "POST",
        "/v1/ministries",
        201,
        json={"code": unique("A"), "name": "Labour", "kind": "ministry"},
    )["id"]
    officer = call(
        "POST",
        "/v1/users",
        201,
        json={
            "email": f"{unique('officer')}@example.org",
            "full_name": "Amina Odhiambo",
            "role": "government_officer",
            "ministry_ids": [ministry],
            "password": PASSWORD,
        },
    )["id"]
    path = f"/v1/users/{officer}"
    call("PATCH", path, 200, json={"full_name": "Amina W. Odhiambo"}, headers={"If-Match": '"v1"'})
    call("PATCH", path, 200, json={"password": NEW_PASSWORD}, headers={"If-Match": '"v2"'})
    # A failed sign-in is about the account but changes none of it; so is an unknown name.
    officer_email = session.get_one(User, officer).email
    for name in (officer_email, "nobody@example.org"):
        r = client.post("/v1/auth/token", data={"username": name, "password": "wrong-password"})
        assert r.status_code == 401, r.text
    token = client.post(
        "/v1/auth/token", data={"username": officer_email, "password": NEW_PASSWORD}
    )
    assert token.status_code == 200, token.text
    signed_in = {"Authorization": f"Bearer {token.json()['access_token']}"}
    r = client.post("/v1/auth/sign-out-everywhere", headers=signed_in)
    assert r.status_code == 204, r.text
    call("PATCH", path, 200, json={"is_active": False}, headers={"If-Match": '"v3"'})

    created_key = call("POST", "/v1/api-keys", 201, json={"name": "Dashboard"})
    assert client.get("/v1/commitments", headers={"X-API-Key": created_key["key"]}).is_success
    revoked = call("POST", "/v1/api-keys", 201, json={"name": "Old dashboard"})["id"]
    call("DELETE", f"/v1/api-keys/{revoked}", 200)

    body = {"url": URL, "events": ["commitment.created"], "ministry_ids": [ministry]}
    sub = call("POST", "/v1/webhooks", 201, json=body)["id"]
    call(
        "PATCH",
        f"/v1/webhooks/{sub}",
        200,
        json={"description": "County dashboard", "events": ["ping", "commitment.created"]},
        headers={"If-Match": '"v1"'},
    )
    call("POST", f"/v1/webhooks/{sub}/rotate-secret", 200)
    call("POST", f"/v1/webhooks/{sub}/ping", 202)
    # Not the newest: SQLite would hand the highest id out again once it is deleted.
    deleted = call("POST", "/v1/webhooks", 201, json={"url": URL, "events": ["ping"]})["id"]
    disabled = call("POST", "/v1/webhooks", 201, json={"url": URL, "events": ["ping"]})["id"]
    call("DELETE", f"/v1/webhooks/{deleted}", 204)
    session.commit()  # a fresh snapshot: the app's writes, when it has its own connection
    webhooks.disable(session, session.get_one(WebhookSubscription, disabled), "410 Gone")
    session.commit()
    assert sec.id is not None
    return Accounts(
        headers,
        sec.id,
        ministry,
        officer,
        created_key["id"],
        revoked,
        created_key["key"],
        sub,
        disabled,
        deleted,
    )


@pytest.fixture
def accounts(client: TestClient, session: Session, settings: Settings) -> Accounts:
    return write_accounts(client, session, settings)


def row_id(accounts: Accounts, which: str) -> int:
    found: int = getattr(accounts, which)
    return found


# Events about a record that record none of its state: a ping, a retried delivery, a
# failed sign-in. An edit is reported at the newest event that does.
STATELESS = (
    "webhook_subscription.pinged",
    "webhook_subscription.delivery_retried",
    "user.login_failed",
)


def newest_state_seq(session: Session, entity_type: str, entity_id: object) -> int:
    stmt = select(func.max(AuditEvent.seq)).where(
        AuditEvent.entity_type == entity_type,
        AuditEvent.entity_id == str(entity_id),
        col(AuditEvent.action).not_in(STATELESS),
    )
    return int(session.exec(stmt).one())


ENTITY = {
    "user_account": "user",
    "api_key": "api_key",
    "webhook_subscription": "webhook_subscription",
}


class TestUntouchedAccounts:
    def test_accounts_keys_and_subscriptions_written_over_the_api_verify(
        self, client: TestClient, session: Session, settings: Settings, accounts: Accounts
    ) -> None:
        result = verify(client, settings, session, accounts.headers)

        assert result["ok"] is True, result
        assert result["checked"] == result["head"]["seq"] == event_count(session)

    def test_factory_rows_verify(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        sec = make_user(session, Role.secretariat, is_active=True, organization="VPI Kenya")
        make_webhook(session, sec, ministry_ids="[]", description="From the factory")

        assert verify(client, settings, session, auth(settings, sec))["ok"] is True

    def test_what_use_changes_without_an_event_is_not_compared(
        self, client: TestClient, session: Session, settings: Settings, accounts: Accounts
    ) -> None:
        tamper(
            session,
            "UPDATE webhook_subscription SET failure_count = 7, lease_until = :t WHERE id = :i",
            t="2030-01-01 00:00:00",
            i=accounts.subscription_id,
        )
        tamper(
            session,
            "UPDATE api_key SET last_used_at = :t WHERE id = :i",
            t="2030-01-01 00:00:00",
            i=accounts.key_id,
        )

        assert verify(client, settings, session, accounts.headers)["ok"] is True

    def test_a_password_change_records_the_credential_version_it_bumps(
        self, session: Session, accounts: Accounts
    ) -> None:
        # Every change of the row is in an event, or verification could not compare it.
        stmt = (
            select(AuditEvent)
            .where(AuditEvent.entity_id == str(accounts.officer_id))
            .where(AuditEvent.action == "user.updated")
            .order_by(col(AuditEvent.seq))
        )
        renamed, password, deactivated = (json.loads(e.data) for e in session.exec(stmt))

        assert "credential_version" not in renamed
        assert password == {
            "password": {"old": "***", "new": "***"},
            "credential_version": {"old": 1, "new": 2},
        }
        # The sign-out in between took it to 3.
        assert deactivated["credential_version"] == {"old": 3, "new": 4}
        assert session.get_one(User, accounts.officer_id).credential_version == 4


class TestTamperedAccounts:
    @pytest.mark.parametrize(
        ("table", "which", "column", "value"),
        [
            ("user_account", "officer_id", "email", "someone.else@example.org"),
            ("user_account", "officer_id", "full_name", "Somebody"),
            ("user_account", "officer_id", "role", "secretariat"),
            ("user_account", "officer_id", "is_active", True),
            ("user_account", "officer_id", "credential_version", 1),
            ("user_account", "secretariat_id", "language", "sw"),
            ("api_key", "key_id", "name", "Renamed"),
            ("api_key", "key_id", "prefix", "vpi_00000000"),
            ("api_key", "revoked_key_id", "revoked_at", None),
            ("webhook_subscription", "subscription_id", "url", "https://198.51.100.7/steal"),
            ("webhook_subscription", "subscription_id", "events", '["commitment.updated"]'),
            ("webhook_subscription", "subscription_id", "ministry_ids", "[]"),
            ("webhook_subscription", "subscription_id", "description", "x"),
            ("webhook_subscription", "disabled_subscription_id", "active", True),
            ("webhook_subscription", "disabled_subscription_id", "disabled_at", None),
        ],
    )
    def test_an_edited_row_is_caught_at_its_newest_event_naming_it(
        self,
        client: TestClient,
        session: Session,
        settings: Settings,
        accounts: Accounts,
        table: str,
        which: str,
        column: str,
        value: object,
    ) -> None:
        entity_id = row_id(accounts, which)

        tamper(session, f"UPDATE {table} SET {column} = :v WHERE id = :i", v=value, i=entity_id)

        result = verify(client, settings, session, accounts.headers)
        caught_at(result, newest_state_seq(session, ENTITY[table], entity_id))
        named(result, ENTITY[table], entity_id)
        assert column in result["detail"]

    @pytest.mark.parametrize(
        ("sql", "which", "entity_type", "said"),
        [
            # An officer taken off their ministry: the link rows are compared too.
            ("DELETE FROM user_ministry WHERE user_id = :i", "officer_id", "user", "ministry_ids"),
            ("DELETE FROM api_key WHERE id = :i", "revoked_key_id", "api_key", "was deleted"),
        ],
    )
    def test_a_removed_row_is_caught_at_its_records_newest_event(
        self,
        client: TestClient,
        session: Session,
        settings: Settings,
        accounts: Accounts,
        sql: str,
        which: str,
        entity_type: str,
        said: str,
    ) -> None:
        entity_id = row_id(accounts, which)

        tamper(session, sql, i=entity_id)

        result = verify(client, settings, session, accounts.headers)
        caught_at(result, newest_state_seq(session, entity_type, entity_id))
        named(result, entity_type, entity_id)
        assert said in result["detail"]

    def test_a_deleted_subscription_put_back_in_sql_is_caught_at_its_deletion(
        self, client: TestClient, session: Session, settings: Settings, accounts: Accounts
    ) -> None:
        back = WebhookSubscription(
            id=accounts.deleted_subscription_id,
            url=URL,
            events='["ping"]',
            secret_encrypted="x",
            created_by=accounts.secretariat_id,
        )
        session.add(back)
        session.commit()

        result = verify(client, settings, session, accounts.headers)
        deleted = newest_state_seq(
            session, "webhook_subscription", accounts.deleted_subscription_id
        )
        assert session.get_one(AuditEvent, deleted).action == "webhook_subscription.deleted"
        caught_at(result, deleted)
        named(result, "webhook_subscription", accounts.deleted_subscription_id)


def hidden_row(session: Session, accounts: Accounts, kind: str) -> int:
    """A row of this kind written with no event, as an administrator's INSERT would."""
    rows: dict[str, User | ApiKey | WebhookSubscription] = {
        "user": User(
            email=f"{unique('hidden')}@example.org",
            full_name="Hidden",
            role="secretariat",
            password_hash="x",
        ),
        "api_key": ApiKey(
            name="Hidden",
            prefix="vpi_hidden",
            key_hash=api_key_digest(unique("vpi_hidden")),
            created_by=accounts.secretariat_id,
        ),
        "webhook_subscription": WebhookSubscription(
            url=URL, events='["ping"]', secret_encrypted="x", created_by=accounts.secretariat_id
        ),
    }
    row = rows[kind]
    session.add(row)
    session.commit()
    assert row.id is not None
    return row.id


class TestRowsNoEventCovers:
    @pytest.mark.parametrize("kind", ["user", "api_key", "webhook_subscription"])
    def test_a_row_no_event_covers_is_caught_past_the_head(
        self,
        client: TestClient,
        session: Session,
        settings: Settings,
        accounts: Accounts,
        kind: str,
    ) -> None:
        hidden = hidden_row(session, accounts, kind)

        result = verify(client, settings, session, accounts.headers)
        caught_past_the_head(result, session)
        named(result, kind, hidden)

    def test_a_user_no_event_covers_is_caught_before_the_next_one_created(
        self, client: TestClient, session: Session, settings: Settings, accounts: Accounts
    ) -> None:
        hidden = hidden_row(session, accounts, "user")
        later = make_user(session, Role.viewer)

        result = verify(client, settings, session, accounts.headers)
        caught_at(result, newest_state_seq(session, "user", later.id))
        named(result, "user", hidden)


class TestCliAndApiAgreeOnAccounts:
    """On a database of its own (SQLite or PostgreSQL): the CLI reads what was committed."""

    @pytest.mark.parametrize(
        ("table", "which", "column"),
        [
            ("user_account", "officer_id", "full_name"),
            ("api_key", "key_id", "name"),
            ("webhook_subscription", "subscription_id", "url"),
        ],
    )
    def test_an_edited_row_is_named_alike(
        self,
        scratch_database_url: str,
        monkeypatch: pytest.MonkeyPatch,
        table: str,
        which: str,
        column: str,
    ) -> None:
        with cli_pointed_at(scratch_database_url, monkeypatch) as (client, session, settings):
            accounts = write_accounts(client, session, settings)
            entity_id = row_id(accounts, which)
            assert run_verify() == (0, verify(client, settings, session, accounts.headers))

            tamper(
                session,
                f"UPDATE {table} SET {column} = 'https://edited.example/sql' WHERE id = :i",
                i=entity_id,
            )

            api = verify(client, settings, session, accounts.headers)
            assert run_verify() == (1, api)
            caught_at(api, newest_state_seq(session, ENTITY[table], entity_id))
            named(api, ENTITY[table], entity_id)
