"""User accounts over HTTP (secretariat only)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.assertions import assert_unchanged, last_event, problem, row_counts
from tests.credentials import auth
from tests.factories import PASSWORD, make_ministry, make_user, pk
from tests.resources import ContextMaker
from vpitracker.auth.passwords import verify_password
from vpitracker.config import Settings
from vpitracker.models import User, UserMinistry
from vpitracker.vocab import Role


def counts(session: Session) -> tuple[int, ...]:
    return row_counts(session, User, UserMinistry)


def new_body(**fields: Any) -> dict[str, Any]:
    return {
        "email": "Focal.Point@Interior.go.ke",
        "full_name": "Focal Point",
        "role": "alliance_member",
        "organization": "HAART Kenya",
        "password": "a long enough password",
        **fields,
    }


class TestCreateUser:
    def test_secretariat_creates_an_officer_with_ministries(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        m1, m2 = make_ministry(session), make_ministry(session)
        r = client.post(
            "/v1/users",
            json=new_body(role="government_officer", ministry_ids=[m2.id, m1.id]),
            headers=auth(settings, make_user(session)),
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert r.headers["Location"] == f"/v1/users/{body['id']}"
        assert r.headers["ETag"] == '"v1"'
        assert body["email"] == "focal.point@interior.go.ke"
        assert (body["role"], body["ministry_ids"], body["is_active"]) == (
            "government_officer",
            sorted([pk(m1), pk(m2)]),
            True,
        )
        assert not {"password", "password_hash"} & set(body)
        assert "a long enough password" not in r.text
        stored = session.get(User, body["id"])
        assert stored is not None
        assert verify_password(stored.password_hash, "a long enough password")
        assert "a long enough password" not in stored.password_hash
        event = last_event(session)
        assert (event.action, event.entity_id) == ("user.created", str(body["id"]))
        assert "password" not in event.data
        assert json.loads(event.data)["ministry_ids"] == sorted([pk(m1), pk(m2)])

    def test_the_new_user_can_sign_in(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        created = client.post(
            "/v1/users", json=new_body(), headers=auth(settings, make_user(session))
        )
        assert created.status_code == 201, created.text
        token = client.post(
            "/v1/auth/token",
            data={"username": "focal.point@interior.go.ke", "password": "a long enough password"},
        )
        assert token.status_code == 200, token.text
        me = client.get(
            "/v1/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
        )
        assert (me.json()["id"], me.json()["role"]) == (created.json()["id"], "alliance_member")

    @pytest.mark.parametrize(
        ("case", "loc"),
        [
            ("officer_without_ministry", ["body", "ministry_ids"]),
            ("officer_with_unknown_ministry", ["body", "ministry_ids"]),
            ("member_with_ministry", ["body", "ministry_ids"]),
            ("secretariat_with_ministry", ["body", "ministry_ids"]),
            ("short_password", ["body", "password"]),
            ("bad_email", ["body", "email"]),
            ("unknown_role", ["body", "role"]),
            ("password_hash_field", ["body", "password_hash"]),
            ("missing_password", ["body", "password"]),
        ],
    )
    def test_invalid_values_are_422_and_write_nothing(
        self, make_context: ContextMaker, case: str, loc: list[str]
    ) -> None:
        ctx = make_context("users")
        session = ctx.session
        ministry = make_ministry(session)
        changes: dict[str, dict[str, Any]] = {
            "officer_without_ministry": {"role": "government_officer"},
            "officer_with_unknown_ministry": {
                "role": "government_officer",
                "ministry_ids": [987654],
            },
            "member_with_ministry": {"ministry_ids": [ministry.id]},
            "secretariat_with_ministry": {"role": "secretariat", "ministry_ids": [ministry.id]},
            "short_password": {"password": "123456789"},
            "bad_email": {"email": "not-an-email"},
            "unknown_role": {"role": "admin"},
            "password_hash_field": {"password_hash": "$argon2id$..."},
            "missing_password": {},
        }
        body = new_body(**changes[case])
        if case == "missing_password":
            del body["password"]
        with ctx.unchanged():
            assert problem(ctx.post(body), 422)["errors"][0]["loc"] == loc


class TestReadUsers:
    def test_get_one_without_password(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        ministry = make_ministry(session)
        officer = make_user(session, Role.government_officer, ministries=[ministry])
        r = client.get(f"/v1/users/{officer.id}", headers=auth(settings, make_user(session)))
        assert r.status_code == 200, r.text
        assert r.headers["ETag"] == '"v1"'
        body = r.json()
        assert (body["email"], body["ministry_ids"]) == (officer.email, [ministry.id])
        assert not {"password", "password_hash"} & set(body)

    def test_list_filters_by_role_activity_and_q(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        sec = make_user(session, email="boss@alliance.org")
        member = make_user(session, Role.alliance_member, full_name="Wanjiru Kamau")
        gone = make_user(session, Role.alliance_member, is_active=False)
        headers = auth(settings, sec)

        def ids(**params: Any) -> list[int]:
            r = client.get("/v1/users", params={"limit": 1000, **params}, headers=headers)
            assert r.status_code == 200, r.text
            assert all("password_hash" not in u for u in r.json()["items"])
            return [u["id"] for u in r.json()["items"]]

        assert ids(role="alliance_member") == [member.id, gone.id]
        assert ids(role="alliance_member", is_active="true") == [member.id]
        assert ids(q="KAMAU") == [member.id]
        assert ids(q="boss@") == [sec.id]
        assert ids(sort="-id")[:3] == [gone.id, member.id, sec.id]
        problem(client.get("/v1/users?sort=role", headers=headers), 422)


class TestUpdateUser:
    def test_patch_name_and_password_with_if_match(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        member = make_user(session, Role.alliance_member, full_name="Old")
        r = client.patch(
            f"/v1/users/{member.id}",
            json={"full_name": "New", "password": "another long password"},
            headers={**auth(settings, make_user(session)), "If-Match": '"v1"'},
        )
        assert r.status_code == 200, r.text
        assert r.headers["ETag"] == '"v2"'
        assert r.json()["full_name"] == "New"
        assert "password" not in r.json()
        data = json.loads(last_event(session).data)
        assert data == {
            "full_name": {"old": "Old", "new": "New"},
            "password": {"old": "***", "new": "***"},
            "credential_version": {"old": 1, "new": 2},
        }
        good = client.post(
            "/v1/auth/token", data={"username": member.email, "password": "another long password"}
        )
        assert good.status_code == 200, good.text
        bad = client.post("/v1/auth/token", data={"username": member.email, "password": PASSWORD})
        problem(bad, 401)

    @pytest.mark.parametrize(
        ("field", "value", "kept"),
        [("role", "alliance_member", "secretariat"), ("is_active", False, True)],
    )
    def test_changing_your_own_role_or_activity_is_422_and_writes_nothing(
        self,
        client: TestClient,
        session: Session,
        settings: Settings,
        field: str,
        value: object,
        kept: object,
    ) -> None:
        sec = make_user(session)
        before = counts(session)
        r = client.patch(
            f"/v1/users/{sec.id}",
            json={field: value},
            headers={**auth(settings, sec), "If-Match": '"v1"'},
        )
        assert problem(r, 422)["errors"][0]["loc"] == ["body", field]
        assert counts(session) == before
        assert_unchanged(session, sec, **{field: kept})

    def test_a_deactivated_users_token_is_refused_on_the_next_request(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        member = make_user(session, Role.alliance_member)
        member_headers = auth(settings, member)
        assert client.get("/v1/me", headers=member_headers).status_code == 200
        r = client.patch(
            f"/v1/users/{member.id}",
            json={"is_active": False},
            headers={**auth(settings, make_user(session)), "If-Match": '"v1"'},
        )
        assert r.status_code == 200, r.text
        assert r.json()["is_active"] is False
        assert last_event(session).action == "user.updated"
        problem(client.get("/v1/me", headers=member_headers), 401)
        problem(client.get("/v1/ministries", headers=member_headers), 401)
        login = client.post("/v1/auth/token", data={"username": member.email, "password": PASSWORD})
        problem(login, 401)

    def test_a_role_change_voids_old_tokens(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        member = make_user(session, Role.alliance_member)
        old = auth(settings, member)
        r = client.patch(
            f"/v1/users/{member.id}",
            json={"role": "viewer"},
            headers={**auth(settings, make_user(session)), "If-Match": '"v1"'},
        )
        assert r.status_code == 200, r.text
        problem(client.get("/v1/me", headers=old), 401)
        session.refresh(member)
        me = client.get("/v1/me", headers=auth(settings, member))
        assert (me.status_code, me.json()["role"]) == (200, "viewer")

    def test_promoting_to_officer_needs_a_ministry(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        sec = auth(settings, make_user(session))
        member = make_user(session, Role.alliance_member)
        headers = {**sec, "If-Match": '"v1"'}
        before = counts(session)
        r = client.patch(
            f"/v1/users/{member.id}", json={"role": "government_officer"}, headers=headers
        )
        assert problem(r, 422)["errors"][0]["loc"] == ["body", "ministry_ids"]
        assert counts(session) == before
        ministry = make_ministry(session)
        ok = client.patch(
            f"/v1/users/{member.id}",
            json={"role": "government_officer", "ministry_ids": [ministry.id]},
            headers=headers,
        )
        assert ok.status_code == 200, ok.text
        assert (ok.json()["role"], ok.json()["ministry_ids"]) == (
            "government_officer",
            [ministry.id],
        )

    @pytest.mark.parametrize(
        ("body", "loc"),
        [
            ({"password": "short"}, ["body", "password"]),
            ({"is_active": None}, ["body", "is_active"]),
            ({"ministry_ids": [1]}, ["body", "ministry_ids"]),
            ({"version": 3}, ["body", "version"]),
        ],
    )
    def test_invalid_or_unknown_field_is_422_and_writes_nothing(
        self, make_context: ContextMaker, body: dict[str, Any], loc: list[str]
    ) -> None:
        ctx = make_context("users")
        session = ctx.session
        make_ministry(session)
        member = make_user(session, Role.alliance_member)
        with ctx.unchanged(member):
            assert problem(ctx.patch(member, body), 422)["errors"][0]["loc"] == loc
