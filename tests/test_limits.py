"""Hostile input gets a clear 4xx problem, never a 500, and writes nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, select

from tests.credentials import auth
from tests.factories import make_ministry, make_user
from vpitracker.config import Settings
from vpitracker.models import AuditEvent, Ministry
from vpitracker.vocab import Role


def _counts(session: Session) -> tuple[int, int]:
    return (
        session.exec(select(func.count()).select_from(Ministry)).one(),
        session.exec(select(func.count()).select_from(AuditEvent)).one(),
    )


@pytest.fixture
def headers(session: Session, settings: Settings) -> dict[str, str]:
    return auth(settings, make_user(session, Role.secretariat))


class TestBodies:
    def test_body_over_one_mebibyte_is_413(
        self, client: TestClient, session: Session, headers: dict[str, str]
    ) -> None:
        before = _counts(session)
        big = {"code": "BIG", "name": "x" * (1024 * 1024 + 10), "kind": "ministry"}
        r = client.post("/v1/ministries", json=big, headers=headers)
        assert r.status_code == 413
        assert r.headers["content-type"] == "application/problem+json"
        assert _counts(session) == before

    def test_streamed_body_without_length_is_cut_at_the_limit(
        self, client: TestClient, session: Session, headers: dict[str, str]
    ) -> None:
        before = _counts(session)

        def chunks() -> Iterator[bytes]:
            for _ in range(300):
                yield b"x" * 4096

        r = client.post(
            "/v1/ministries",
            content=chunks(),
            headers={**headers, "content-type": "application/json"},
        )
        assert r.status_code == 413
        assert _counts(session) == before

    @pytest.mark.parametrize(
        ("payload", "content_type"),
        [
            (b'{"code": "X", "name": ', "application/json"),
            (b'{"code": "X\xff\xfe", "name": "n", "kind": "ministry"}', "application/json"),
            (b'{"code": "X1", "name": "a\\u0000b", "kind": "ministry"}', "application/json"),
            (b'{"code": "X2", "name": "n", "kind": "ministry", "parent_id": 1e400}',
             "application/json"),
            (b'{"code": "X3", "name": "n", "kind": "ministry", "parent_id": '
             b"99999999999999999999999999999}", "application/json"),
        ],
        ids=["malformed-json", "malformed-utf8", "nul-in-string", "huge-float", "huge-int"],
    )  # fmt: skip
    def test_malformed_bodies_are_422(
        self,
        client: TestClient,
        session: Session,
        headers: dict[str, str],
        payload: bytes,
        content_type: str,
    ) -> None:
        before = _counts(session)
        r = client.post(
            "/v1/ministries", content=payload, headers={**headers, "content-type": content_type}
        )
        # A body that is not UTF-8 cannot be parsed at all (400); the rest are invalid (422).
        assert r.status_code in (400, 422), r.text
        assert r.json()["status"] == r.status_code
        assert _counts(session) == before


class TestQueries:
    @pytest.mark.parametrize(
        "query",
        ["limit=1001", "limit=0", "cursor=" + "A" * 3000, "q=%00", "cursor=%00abc",
         "sort=nonsense", "kind=planet", "parent_id=99999999999999999999"],
    )  # fmt: skip
    def test_bad_list_queries_are_422(
        self, client: TestClient, headers: dict[str, str], query: str
    ) -> None:
        r = client.get(f"/v1/ministries?{query}", headers=headers)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"

    def test_nul_in_path_is_422(self, client: TestClient, headers: dict[str, str]) -> None:
        assert client.get("/v1/provisions/TIP%006", headers=headers).status_code == 422

    def test_garbage_cursor_of_the_right_shape_is_422(
        self, client: TestClient, session: Session, headers: dict[str, str]
    ) -> None:
        make_ministry(session)
        r = client.get("/v1/ministries?cursor=eyJzIjoiaWQiLCJ2IjpbIngiLCJ5Il19", headers=headers)
        assert r.status_code == 422

    def test_nul_in_sign_in_form_is_422_not_500(self, client: TestClient) -> None:
        r = client.post("/v1/auth/token", data={"username": "a\x00@b.org", "password": "p"})
        assert r.status_code == 422
