"""Sign-in (POST /v1/auth/token) and the caller's identity (GET /v1/me)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from tests import conftest
from tests.assertions import problem, row_counts
from tests.credentials import BAD_CREDENTIALS, auth, bad_auth, forged_token
from tests.factories import PASSWORD, make_api_key, make_ministry, make_user
from vpitracker.config import Settings
from vpitracker.models import AuditEvent, LoginFailure, User
from vpitracker.vocab import Role


def sign_in(client: TestClient, username: str, password: str) -> Any:
    return client.post("/v1/auth/token", data={"username": username, "password": password})


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


class TestIssueToken:
    def test_correct_password_gives_a_token_that_works_on_me(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        ministry = make_ministry(session)
        officer = make_user(
            session,
            Role.government_officer,
            ministries=[ministry],
            organization="Ministry of Interior",
        )
        r = sign_in(client, officer.email, PASSWORD)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == settings.access_token_expire_minutes * 60
        me = client.get("/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
        assert me.status_code == 200, me.text
        assert me.json() == {
            "kind": "user",
            "id": officer.id,
            "role": "government_officer",
            "email": officer.email,
            "full_name": officer.full_name,
            "organization": "Ministry of Interior",
            "ministry_ids": [ministry.id],
            "language": "en",
            "notify": {"disputes": True, "digest": "weekly"},
        }

    def test_email_is_case_insensitive(self, client: TestClient, session: Session) -> None:
        user = make_user(session, email="wanjiru@alliance.org")
        r = sign_in(client, "  Wanjiru@ALLIANCE.org ", PASSWORD)
        assert r.status_code == 200, r.text
        me = client.get("/v1/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
        assert me.json()["id"] == user.id

    @pytest.mark.parametrize("case", ["wrong_password", "unknown_email", "deactivated"])
    def test_failed_sign_in_is_401_and_only_the_failure_is_recorded(
        self, client: TestClient, session: Session, case: str
    ) -> None:
        user = make_user(session, is_active=case != "deactivated")
        email = "nobody@example.org" if case == "unknown_email" else user.email
        password = "wrong password!" if case == "wrong_password" else PASSWORD
        users, failures, events = row_counts(session, User, LoginFailure)
        r = sign_in(client, email, password)
        assert problem(r, 401)["detail"] == "Incorrect email or password"
        assert r.headers["WWW-Authenticate"] == 'Bearer realm="vpitracker"'
        assert "access_token" not in r.text
        assert row_counts(session, User, LoginFailure) == (users, failures + 1, events + 1)
        event = session.exec(select(AuditEvent).order_by(col(AuditEvent.seq).desc())).first()
        assert event is not None
        assert (event.action, event.actor_type) == ("user.login_failed", "anonymous")
        data = json.loads(event.data)
        if case == "unknown_email":
            assert set(data) == {"account", "address"}
        else:
            assert data["account_id"] == user.id
        assert email not in event.data
        assert password not in event.data

    @pytest.mark.parametrize(
        ("form", "loc"),
        [
            ({"username": "a@example.org"}, ["body", "password"]),
            ({"password": PASSWORD}, ["body", "username"]),
            ({"username": "a\u0000@example.org", "password": PASSWORD}, ["body", "username"]),
            (
                {"username": "a@example.org", "password": PASSWORD, "grant_type": "client_creds"},
                ["body", "grant_type"],
            ),
        ],
    )
    def test_incomplete_form_is_422_and_writes_nothing(
        self,
        client: TestClient,
        session: Session,
        form: dict[str, str],
        loc: list[str],
    ) -> None:
        before = row_counts(session, LoginFailure)
        r = client.post("/v1/auth/token", data=form)
        assert problem(r, 422)["errors"][0]["loc"] == loc
        assert row_counts(session, LoginFailure) == before

    def test_a_json_body_is_422_not_500(self, client: TestClient, session: Session) -> None:
        user = make_user(session)
        before = row_counts(session, LoginFailure)
        r = client.post("/v1/auth/token", json={"username": user.email, "password": PASSWORD})
        problem(r, 422)
        assert row_counts(session, LoginFailure) == before

    def test_grant_type_password_is_accepted(self, client: TestClient, session: Session) -> None:
        user = make_user(session)
        r = client.post(
            "/v1/auth/token",
            data={"username": user.email, "password": PASSWORD, "grant_type": "password"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["access_token"]


class TestSignInThrottle:
    @pytest.fixture
    def settings(self) -> Settings:
        return conftest.test_settings(login_max_failures_per_account=3)

    def test_after_too_many_failures_even_the_right_password_is_429(
        self, client: TestClient, session: Session
    ) -> None:
        user = make_user(session)
        for _ in range(3):
            problem(sign_in(client, user.email, "wrong password!"), 401)
        r = sign_in(client, user.email, PASSWORD)
        problem(r, 429)
        assert int(r.headers["Retry-After"]) >= 1
        # Another account from the same address is not held back.
        other = make_user(session)
        assert sign_in(client, other.email, PASSWORD).status_code == 200


class TestMe:
    def test_an_api_key_is_a_read_only_viewer(self, client: TestClient, session: Session) -> None:
        secret = make_api_key(session, make_user(session))
        for headers in (
            {"X-API-Key": secret},
            {"Authorization": f"Bearer {secret}"},
            {"Authorization": "Basic " + base64.b64encode(f"x:{secret}".encode()).decode()},
        ):
            r = client.get("/v1/me", headers=headers)
            assert r.status_code == 200, r.text
            assert (r.json()["kind"], r.json()["role"], r.json()["email"]) == (
                "api_key",
                "viewer",
                None,
            )

    @pytest.mark.parametrize("credential", BAD_CREDENTIALS)
    def test_bad_credentials_are_401(
        self, client: TestClient, session: Session, settings: Settings, credential: str
    ) -> None:
        user = make_user(session)
        before = row_counts(session, User)
        problem(client.get("/v1/me", headers=bad_auth(settings, user, credential)), 401)
        assert row_counts(session, User) == before

    @pytest.mark.parametrize(
        "defect",
        [
            "unknown_user",
            "non_numeric_sub",
            "missing_sub",
            "missing_role",
            "other_role",
            "missing_exp",
            "missing_audience",
            "not_yet_valid",
            "other_algorithm",
            "unsigned",
            "tampered_payload",
        ],
    )
    def test_forged_or_defective_tokens_are_401(
        self, client: TestClient, session: Session, settings: Settings, defect: str
    ) -> None:
        user = make_user(session, Role.alliance_member)
        sub, role = str(user.id), user.role
        future = int(user.created_at.timestamp()) + 3600
        if defect == "unsigned":
            claims: dict[str, Any] = {
                "iss": settings.jwt_issuer,
                "aud": settings.jwt_audience,
                "sub": sub,
            }
            token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64({**claims, 'role': role})}."
        elif defect == "tampered_payload":
            header, _, signature = forged_token(settings, sub=sub, role=role).split(".")
            promoted = {"iss": settings.jwt_issuer, "aud": settings.jwt_audience, "sub": sub}
            token = f"{header}.{b64({**promoted, 'role': 'secretariat'})}.{signature}"
        else:
            variants: dict[str, dict[str, Any]] = {
                "unknown_user": {"sub": "987654", "role": role},
                "non_numeric_sub": {"sub": "me", "role": role},
                "missing_sub": {"sub": None, "role": role},
                "missing_role": {"sub": sub, "role": None},
                "other_role": {"sub": sub, "role": "secretariat"},
                "missing_exp": {"sub": sub, "role": role, "exp": None},
                "missing_audience": {"sub": sub, "role": role, "aud": None},
                "not_yet_valid": {"sub": sub, "role": role, "nbf": future},
                "other_algorithm": {"sub": sub, "role": role},
            }
            claims = variants[defect]
            signer = (
                settings.model_copy(update={"jwt_algorithm": "HS512"})
                if defect == "other_algorithm"
                else settings
            )
            token = forged_token(signer, **claims)
        problem(client.get("/v1/me", headers={"Authorization": f"Bearer {token}"}), 401)

    def test_a_correctly_forged_token_is_accepted(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        # The control for the test above: the helper itself makes valid tokens.
        user = make_user(session, Role.alliance_member)
        token = forged_token(settings, sub=str(user.id), role=user.role)
        r = client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert (r.status_code, r.json()["id"]) == (200, user.id)

    @pytest.mark.parametrize(
        "authorization",
        ["Bearer", "Bearer    ", "Token abc", "Basic !!!not-base64!!!", "Basic " + "eA=="],
    )
    def test_malformed_authorization_headers_are_401(
        self, client: TestClient, authorization: str
    ) -> None:
        problem(client.get("/v1/me", headers={"Authorization": authorization}), 401)

    def test_an_unknown_api_key_is_401(self, client: TestClient) -> None:
        problem(client.get("/v1/me", headers={"X-API-Key": "vpi_unknown"}), 401)

    def test_a_token_signed_with_the_app_helper_works_for_every_role(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        for role in Role:
            ministries = [make_ministry(session)] if role is Role.government_officer else None
            user = make_user(session, role, ministries=ministries)
            r = client.get("/v1/me", headers=auth(settings, user))
            assert (r.status_code, r.json()["role"]) == (200, role.value)
