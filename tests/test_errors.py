"""Every error is RFC 9457 problem+json, and bad input is never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.assertions import problem, row_counts
from tests.credentials import auth
from tests.factories import make_ministry, make_user
from vpitracker.config import Settings
from vpitracker.models import Commitment, Ministry, Recommendation


def everything(session: Session) -> tuple[int, ...]:
    return row_counts(session, Ministry, Recommendation, Commitment)


class TestUnknownRoutes:
    @pytest.mark.parametrize(
        "path", ["/v1/nope", "/v2/ministries", "/nope", "/v1/ministries/1/nope"]
    )
    def test_unknown_route_is_404_problem(
        self, client: TestClient, session: Session, settings: Settings, path: str
    ) -> None:
        body = problem(client.get(path, headers=auth(settings, make_user(session))), 404)
        assert body["title"] == "Not Found"
        assert body["type"].startswith("https://")

    def test_unknown_route_is_404_even_without_credentials(self, client: TestClient) -> None:
        problem(client.get("/v1/nope"), 404)

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("DELETE", "/v1/ministries"),
            ("PUT", "/v1/ministries/1"),
            ("DELETE", "/v1/commitments/1"),
            ("GET", "/v1/auth/token"),
            ("PUT", "/v1/me"),
        ],
    )
    def test_wrong_method_is_405_problem_and_writes_nothing(
        self, client: TestClient, session: Session, settings: Settings, method: str, path: str
    ) -> None:
        headers = auth(settings, make_user(session))
        make_ministry(session)
        before = everything(session)
        r = client.request(method, path, headers=headers)
        assert problem(r, 405)["title"] == "Method Not Allowed"
        assert "Allow" in r.headers
        assert everything(session) == before


class TestValidationProblems:
    def test_every_error_names_its_location_and_message(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        headers = auth(settings, make_user(session))
        before = everything(session)
        r = client.post(
            "/v1/ministries", json={"code": "", "kind": "galaxy", "extra": 1}, headers=headers
        )
        body = problem(r, 422)
        assert body["type"] == "https://vpitracker.org/problems/validation-error"
        assert all(set(e) == {"loc", "msg"} for e in body["errors"])
        assert {tuple(e["loc"]) for e in body["errors"]} == {
            ("body", "code"),
            ("body", "name"),
            ("body", "kind"),
            ("body", "extra"),
        }
        assert everything(session) == before

    @pytest.mark.parametrize(
        ("content", "content_type", "status"),
        [
            (b'{"code": "X", "name": ', "application/json", 422),
            (b'["code", "name"]', "application/json", 422),
            (b"null", "application/json", 422),
            (b"code=X&name=Y&kind=agency", "application/x-www-form-urlencoded", 422),
            # Bytes that are not text at all cannot be parsed: a plain bad request.
            (b"\xff\xfe\x00", "application/json", 400),
        ],
    )
    def test_malformed_bodies_are_problems_and_write_nothing(
        self,
        client: TestClient,
        session: Session,
        settings: Settings,
        content: bytes,
        content_type: str,
        status: int,
    ) -> None:
        headers = {**auth(settings, make_user(session)), "Content-Type": content_type}
        before = everything(session)
        r = client.post("/v1/ministries", content=content, headers=headers)
        problem(r, status)
        assert everything(session) == before

    @pytest.mark.parametrize(
        "body",
        [
            {"code": "X" * 65, "name": "N", "kind": "agency"},
            {"code": "X", "name": "N" * 301, "kind": "agency"},
            {"code": "X", "name": "nul\u0000byte", "kind": "agency"},
            {"code": "X", "name": "N", "kind": "agency", "parent_id": 2**63},
            {"code": "X", "name": "N", "kind": "agency", "parent_id": "one"},
            {"code": "X", "name": ["N"], "kind": "agency"},
        ],
    )
    def test_out_of_range_values_are_422_not_500(
        self, client: TestClient, session: Session, settings: Settings, body: dict[str, Any]
    ) -> None:
        headers = auth(settings, make_user(session))
        before = everything(session)
        problem(client.post("/v1/ministries", json=body, headers=headers), 422)
        assert everything(session) == before

    @pytest.mark.parametrize(
        "url",
        [
            "/v1/ministries/99999999999999999999",
            "/v1/ministries/-1",
            "/v1/ministries?limit=abc",
            "/v1/ministries?limit=1001",
            "/v1/ministries?parent_id=0",
            "/v1/commitments?due_after=2026-13-01",
            "/v1/commitments?as_of=yesterday",
            "/v1/recommendations?q=" + "x" * 201,
        ],
    )
    def test_bad_path_and_query_values_are_422(
        self, client: TestClient, session: Session, settings: Settings, url: str
    ) -> None:
        body = problem(client.get(url, headers=auth(settings, make_user(session))), 422)
        assert body["errors"][0]["loc"][0] in {"path", "query"}

    @pytest.mark.parametrize(
        "url",
        [
            "/v1/ministries?q=%00",
            "/v1/recommendations?q=a%00b",
            "/v1/commitments?q=%00",
            "/v1/recommendations?provision=TIP-%00",
            "/v1/provisions/TIP-%00",
            "/v1/users?q=%00",
        ],
    )
    def test_nul_characters_never_reach_the_database(
        self, client: TestClient, session: Session, settings: Settings, url: str
    ) -> None:
        # PostgreSQL refuses NUL in text, so it must be turned away before any query.
        problem(client.get(url, headers=auth(settings, make_user(session))), 422)


class TestAuthProblems:
    def test_401_says_how_to_authenticate(self, client: TestClient) -> None:
        r = client.get("/v1/ministries")
        body = problem(r, 401)
        # A read takes an API key as Basic password too, so it offers that as well.
        assert (
            r.headers["WWW-Authenticate"] == 'Bearer realm="vpitracker", Basic realm="vpitracker"'
        )
        assert body["type"] == "https://vpitracker.org/problems/unauthorized"
        r = client.post("/v1/ministries", json={})
        problem(r, 401)
        assert r.headers["WWW-Authenticate"] == 'Bearer realm="vpitracker"'

    def test_403_names_the_role_needed(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        from vpitracker.vocab import Role

        member = make_user(session, Role.alliance_member)
        before = everything(session)
        r = client.post(
            "/v1/ministries",
            json={"code": "X", "name": "N", "kind": "agency"},
            headers=auth(settings, member),
        )
        body = problem(r, 403)
        assert "secretariat" in body["detail"]
        assert "WWW-Authenticate" not in r.headers
        assert everything(session) == before
