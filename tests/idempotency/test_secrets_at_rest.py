"""No secret is stored in plain text anywhere, and replays never show one again."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlmodel import Session, SQLModel

from tests.credentials import auth
from tests.factories import make_user
from vpitracker.config import Settings
from vpitracker.vocab import Role


def _stored_text(session: Session) -> str:
    """Every value of every row of every table, as one string."""
    session.expire_all()
    parts: list[str] = []
    for table in SQLModel.metadata.sorted_tables:
        for row in session.execute(select(table)).all():
            parts.extend(str(value) for value in row)
    return "\n".join(parts)


def test_no_table_holds_a_key_password_or_token_and_replays_omit_the_key(
    client: TestClient, session: Session, settings: Settings
) -> None:
    admin = auth(settings, make_user(session, Role.secretariat))
    password = "plain-text-lantern-password-31"
    user = client.post(
        "/v1/users",
        json={"email": "canary@example.org", "full_name": "Canary", "role": "viewer",
              "password": password},
        headers={**admin, "Idempotency-Key": "user-1"},
    )  # fmt: skip
    assert user.status_code == 201, user.text
    token = client.post(
        "/v1/auth/token", data={"username": "canary@example.org", "password": password}
    ).json()["access_token"]
    headers = {**admin, "Idempotency-Key": "key-1"}
    first = client.post("/v1/api-keys", json={"name": "dashboard"}, headers=headers)
    assert first.status_code == 201, first.text
    secret = first.json()["key"]
    assert secret.startswith("vpi_")

    replay = client.post("/v1/api-keys", json={"name": "dashboard"}, headers=headers)
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.headers["Idempotent-Replay-Omitted"] == "key"
    assert replay.json()["key"] is None
    assert replay.json()["secret_omitted"] == ["key"]
    assert replay.json()["id"] == first.json()["id"]
    # The key itself still works: only its copy in the replay store is gone.
    assert client.get("/v1/me", headers={"X-API-Key": secret}).status_code == 200

    stored = _stored_text(session)
    for canary in (secret, secret[len("vpi_") :], password, token):
        assert canary not in stored
