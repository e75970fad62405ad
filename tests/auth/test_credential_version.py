"""Tokens carry the account's credential version: changes to the account void old ones."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from jose import jwt
from sqlmodel import Session

from tests.assertions import problem
from tests.credentials import auth, forged_token
from tests.factories import PASSWORD, make_api_key, make_user
from vpitracker.config import Settings
from vpitracker.errors import Unauthorized
from vpitracker.kernel import credentials
from vpitracker.models import User
from vpitracker.vocab import Role


def _patch(client: TestClient, admin: dict[str, str], user_id: int, **body: Any) -> None:
    etag = client.get(f"/v1/users/{user_id}", headers=admin).headers["ETag"]
    r = client.patch(f"/v1/users/{user_id}", json=body, headers={**admin, "If-Match": etag})
    assert r.status_code == 200, r.text


def _me(client: TestClient, headers: dict[str, str]) -> int:
    return client.get("/v1/me", headers=headers).status_code


@pytest.fixture
def admin(session: Session, settings: Settings) -> dict[str, str]:
    return auth(settings, make_user(session, Role.secretariat))


class TestOldTokensStopWorking:
    @pytest.mark.parametrize(
        "changes",
        [
            [{"password": "a-brand-new-passphrase-77"}],
            [{"role": "viewer"}, {"role": "alliance_member"}],
            [{"is_active": False}, {"is_active": True}],
        ],
        ids=["password", "role_and_back", "deactivated_and_back"],
    )
    def test_after_a_change_of_the_account(
        self,
        client: TestClient,
        session: Session,
        settings: Settings,
        admin: dict[str, str],
        changes: list[dict[str, Any]],
    ) -> None:
        user = make_user(session, Role.alliance_member)
        old = auth(settings, user)
        assert _me(client, old) == 200
        assert user.id is not None
        for change in changes:
            _patch(client, admin, user.id, **change)
        assert problem(client.get("/v1/me", headers=old), 401)
        password = changes[0].get("password", PASSWORD)
        fresh = client.post("/v1/auth/token", data={"username": user.email, "password": password})
        assert fresh.status_code == 200, fresh.text
        assert _me(client, {"Authorization": f"Bearer {fresh.json()['access_token']}"}) == 200

    def test_an_edit_that_touches_no_credential_keeps_tokens(
        self, client: TestClient, session: Session, settings: Settings, admin: dict[str, str]
    ) -> None:
        user = make_user(session, Role.alliance_member)
        old = auth(settings, user)
        assert user.id is not None
        _patch(client, admin, user.id, full_name="A new display name")
        assert _me(client, old) == 200


class TestSignOutEverywhere:
    def test_every_token_of_the_account_stops_working(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        user = make_user(session, Role.viewer)
        phone = client.post("/v1/auth/token", data={"username": user.email, "password": PASSWORD})
        laptop = auth(settings, user)
        phone_headers = {"Authorization": f"Bearer {phone.json()['access_token']}"}
        r = client.post("/v1/auth/sign-out-everywhere", headers=laptop)
        assert r.status_code == 204, r.text
        assert (_me(client, laptop), _me(client, phone_headers)) == (401, 401)
        again = client.post("/v1/auth/token", data={"username": user.email, "password": PASSWORD})
        assert _me(client, {"Authorization": f"Bearer {again.json()['access_token']}"}) == 200

    def test_an_api_key_cannot_sign_out(self, client: TestClient, session: Session) -> None:
        key = make_api_key(session, make_user(session))
        problem(client.post("/v1/auth/sign-out-everywhere", headers={"X-API-Key": key}), 403)


class TestPublicCheck:
    """The check cookie sessions use: the same rule as bearer tokens."""

    def test_stale_version_or_inactive_account_is_unauthorized(self, session: Session) -> None:
        user = make_user(session, Role.viewer)
        assert user.id is not None
        actor = credentials.actor_for_user_id(session, user.id, user.credential_version)
        assert (actor.id, actor.role) == (user.id, Role.viewer)
        with pytest.raises(Unauthorized):
            credentials.actor_for_user_id(session, user.id, user.credential_version + 1)
        with pytest.raises(Unauthorized):
            credentials.actor_for_user_id(session, 10**6, 1)
        stored = session.get(User, user.id)
        assert stored is not None
        stored.is_active = False
        session.commit()
        with pytest.raises(Unauthorized):
            credentials.actor_for_user_id(session, user.id, user.credential_version)


class TestDeactivationStopsApiKeys:
    def test_a_deactivated_creators_keys_are_refused(
        self, client: TestClient, session: Session, admin: dict[str, str]
    ) -> None:
        creator = make_user(session, Role.secretariat)
        key = {"X-API-Key": make_api_key(session, creator)}
        assert _me(client, key) == 200
        assert creator.id is not None
        _patch(client, admin, creator.id, is_active=False)
        assert problem(client.get("/v1/me", headers=key), 401)
        _patch(client, admin, creator.id, is_active=True)
        assert _me(client, key) == 200


class TestTokenEdges:
    def test_a_forty_digit_subject_is_401_not_500(
        self, client: TestClient, settings: Settings
    ) -> None:
        token = forged_token(settings, sub="1" * 40)
        problem(client.get("/v1/me", headers={"Authorization": f"Bearer {token}"}), 401)

    def test_a_token_issued_in_the_future_is_401(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        user = make_user(session)
        future = forged_token(settings, sub=str(user.id), iat=2**31 - 1)
        problem(client.get("/v1/me", headers={"Authorization": f"Bearer {future}"}), 401)

    def test_a_critical_header_extension_is_401(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        user = make_user(session)
        good = forged_token(settings, sub=str(user.id))
        claims = jwt.get_unverified_claims(good)
        crit = jwt.encode(
            claims, settings.secret_key, algorithm="HS256", headers={"crit": ["exp"], "exp": 1}
        )
        assert _me(client, {"Authorization": f"Bearer {good}"}) == 200
        problem(client.get("/v1/me", headers={"Authorization": f"Bearer {crit}"}), 401)

    def test_a_token_without_a_credential_version_is_401(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        user = make_user(session)
        token = forged_token(settings, sub=str(user.id), cv=None)
        problem(client.get("/v1/me", headers={"Authorization": f"Bearer {token}"}), 401)
