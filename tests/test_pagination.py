"""Keyset pagination: every row exactly once while rows are inserted; tampered cursors."""

from __future__ import annotations

import base64
import json
import re
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import Session
from starlette.datastructures import URL

from tests.assertions import problem
from tests.conftest import test_settings
from tests.credentials import auth
from tests.factories import make_commitment, make_ministry, make_user
from vpitracker.config import Settings
from vpitracker.models import Ministry

LINK = re.compile(r'^<(?P<url>[^>]+)>; rel="next"$')


def next_link(r: Response) -> str | None:
    """The URL of the Link rel="next" header, checked against next_cursor."""
    cursor = r.json()["next_cursor"]
    if "Link" not in r.headers:
        assert cursor is None, "next_cursor without a Link header"
        return None
    match = LINK.match(r.headers["Link"])
    assert match, r.headers["Link"]
    url = match["url"]
    assert cursor is not None
    assert f"cursor={cursor}" in url
    return url


def cursor(payload: Any) -> str:
    raw = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class TestWalkWhileInserting:
    @pytest.mark.parametrize("sort", ["id", "-id", "due_date", "-due_date", "code"])
    def test_commitments_are_each_seen_once(
        self, client: TestClient, session: Session, settings: Settings, sort: str
    ) -> None:
        headers = auth(settings, make_user(session))
        lead = make_ministry(session)
        base = date(2030, 1, 1)
        # Few distinct due dates, so the id tiebreaker is exercised across page edges.
        existing = {
            make_commitment(
                session, code=f"C-{n:02}", lead=lead, due_date=base + timedelta(days=n % 4)
            ).id
            for n in range(23)
        }
        seen: list[int] = []
        url: str | None = f"/v1/commitments?limit=7&sort={sort}"
        pages = 0
        while url is not None:
            r = client.get(url, headers=headers)
            assert r.status_code == 200, r.text
            items = r.json()["items"]
            assert len(items) <= 7
            seen += [c["id"] for c in items]
            url = next_link(r)
            pages += 1
            # Between page requests, new rows arrive: through the API and directly.
            created = client.post(
                "/v1/commitments",
                json={
                    "code": f"NEW-{pages}",
                    "title": "Arrived mid-walk",
                    "description": "D",
                    "lead_ministry_id": lead.id,
                    "due_date": (base + timedelta(days=pages % 4)).isoformat(),
                    "indicator": "I",
                },
                headers=headers,
            )
            assert created.status_code == 201, created.text
            make_commitment(session, code=f"C-{pages:02}X", lead=lead, due_date=base)
        assert pages >= 4
        assert len(seen) == len(set(seen)), "a row was returned twice"
        assert existing <= set(seen), f"missed {existing - set(seen)}"

    def test_ministries_by_name_with_ties(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        headers = auth(settings, make_user(session))
        existing = {make_ministry(session, name=f"Ministry {n % 3}").id for n in range(16)}
        seen: list[int] = []
        url: str | None = "/v1/ministries?limit=7&sort=-name"
        while url is not None:
            r = client.get(url, headers=headers)
            assert r.status_code == 200, r.text
            names = [m["name"] for m in r.json()["items"]]
            assert names == sorted(names, reverse=True)
            seen += [m["id"] for m in r.json()["items"]]
            url = next_link(r)
            session.add(Ministry(code=f"NEW{len(seen)}", name="Ministry 1", kind="agency"))
            session.commit()
        assert len(seen) == len(set(seen))
        assert existing <= set(seen)

    def test_last_page_has_no_link_and_no_cursor(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        headers = auth(settings, make_user(session))
        for _ in range(7):
            make_ministry(session)
        r = client.get("/v1/ministries?limit=7", headers=headers)
        assert r.status_code == 200, r.text
        assert len(r.json()["items"]) == 7
        assert r.json()["next_cursor"] is None
        assert "Link" not in r.headers

    def test_link_keeps_the_filters(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        headers = auth(settings, make_user(session))
        for _ in range(3):
            make_ministry(session, kind="county")
        make_ministry(session, kind="agency")
        r = client.get("/v1/ministries?limit=2&kind=county&sort=-id", headers=headers)
        url = next_link(r)
        assert url is not None
        assert "kind=county" in url
        assert "sort=-id" in url
        rest = client.get(url, headers=headers)
        assert [m["kind"] for m in rest.json()["items"]] == ["county"]
        assert next_link(rest) is None


def forged_host_link(client: TestClient, session: Session, settings: Settings) -> str:
    """The next link of a listing asked for with a forged Host header; it names no such host."""
    headers = auth(settings, make_user(session))
    for _ in range(3):
        make_ministry(session)
    r = client.get("/v1/ministries?limit=2&sort=-id", headers={**headers, "Host": "evil.example"})
    assert r.status_code == 200, r.text
    assert "evil.example" not in r.headers["Link"]
    url = next_link(r)
    assert url is not None
    assert "sort=-id" in url
    return url


class TestLinkTarget:
    def test_without_a_public_url_it_is_a_relative_reference(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        url = forged_host_link(client, session, settings)
        assert url.startswith("/v1/ministries?")
        # The relative reference works as is against the server.
        assert client.get(url, headers=auth(settings, make_user(session))).status_code == 200


class TestLinkQuery:
    @pytest.mark.parametrize(
        "query",
        [
            "limit=1",
            "limit=1&sort=-id&x=a%20b&y=&z=%7E%2F",
            "cursor=&limit=1&x=1&x=2",
            "x=caf%C3%A9+noir&limit=1&limit=1&w",
        ],
    )
    def test_it_is_the_requests_query_with_the_cursor_last(
        self, client: TestClient, session: Session, settings: Settings, query: str
    ) -> None:
        """As Starlette's ``URL.include_query_params`` writes it: the other parameters in
        their order, re-encoded, blank ones and repeats kept, the old cursor dropped."""
        headers = auth(settings, make_user(session))
        for _ in range(2):
            make_ministry(session)
        r = client.get(f"/v1/ministries?{query}", headers=headers)
        url = next_link(r)
        expected = URL(f"/v1/ministries?{query}").include_query_params(
            cursor=r.json()["next_cursor"]
        )
        assert url == f"{expected.path}?{expected.query}"


class TestLinkTargetWithAPublicUrl:
    @pytest.fixture
    def settings(self) -> Settings:
        return test_settings(public_url="https://vpi.example.org/")

    def test_it_is_the_public_url_and_the_path(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        url = forged_host_link(client, session, settings)
        assert url.startswith("https://vpi.example.org/v1/ministries?")


class TestLimits:
    @pytest.mark.parametrize("limit", ["0", "-1", "1001", "many"])
    def test_out_of_range_limit_is_422(
        self, client: TestClient, session: Session, settings: Settings, limit: str
    ) -> None:
        r = client.get(f"/v1/ministries?limit={limit}", headers=auth(settings, make_user(session)))
        assert problem(r, 422)["errors"][0]["loc"] == ["query", "limit"]

    def test_default_is_50_and_1000_is_allowed(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        headers = auth(settings, make_user(session))
        for _ in range(51):
            make_ministry(session)
        first = client.get("/v1/ministries", headers=headers)
        assert (len(first.json()["items"]), first.json()["next_cursor"] is not None) == (50, True)
        everything = client.get("/v1/ministries?limit=1000", headers=headers)
        assert (len(everything.json()["items"]), everything.json()["next_cursor"]) == (51, None)


class TestEmptyCursor:
    @pytest.mark.parametrize(
        "path",
        [
            "/v1/commitments",
            "/v1/commitments?sort=-due_date",
            "/v1/ministries",
            "/v1/provisions",
            "/v1/recommendations",
            "/v1/users",
            "/v1/api-keys",
            "/v1/webhooks",
            "/v1/status-updates",
            "/v1/commitments/{cid}/status-updates",
            "/v1/commitments/{cid}/assessments",
        ],
    )
    def test_an_empty_cursor_is_the_first_page(
        self, client: TestClient, session: Session, settings: Settings, path: str
    ) -> None:
        # `?cursor=` (as a form or a hand-edited URL sends it) is no cursor, not a 500.
        headers = auth(settings, make_user(session))
        lead = make_ministry(session)
        cid = make_commitment(session, lead=lead).id
        for _ in range(2):
            make_commitment(session, lead=lead)
        path = path.format(cid=cid)
        joiner = "&" if "?" in path else "?"
        first = client.get(f"{path}{joiner}limit=2", headers=headers)
        empty = client.get(f"{path}{joiner}limit=2&cursor=", headers=headers)
        assert (first.status_code, empty.status_code) == (200, 200), empty.text
        assert empty.json() == first.json()


class TestTamperedCursors:
    @pytest.mark.parametrize(
        ("path", "tampered"),
        [
            ("/v1/commitments", "garbage"),
            ("/v1/commitments", "!!!!"),
            ("/v1/commitments", cursor(b"not json")),
            ("/v1/commitments", cursor({"v": ["x", 1]})),
            ("/v1/commitments", cursor({"s": "id", "v": [1]})),
            ("/v1/commitments", cursor({"s": "id", "v": [1, 2, 3]})),
            ("/v1/commitments", cursor({"s": "id", "v": "1,2"})),
            ("/v1/commitments", cursor({"s": "-id", "v": [5, 5]})),  # another sort's cursor
            ("/v1/commitments", cursor({"s": "id", "v": ["5", 5]})),
            ("/v1/commitments", cursor({"s": "id", "v": [5, "5"]})),
            ("/v1/commitments", cursor({"s": "id", "v": [5, None]})),
            ("/v1/commitments", cursor({"s": "id", "v": [{"x": 1}, 5]})),
            ("/v1/commitments", cursor([1, 2])),
            ("/v1/commitments?sort=due_date", cursor({"s": "due_date", "v": ["soon", 1]})),
            ("/v1/commitments?sort=due_date", cursor({"s": "due_date", "v": [20300101, 1]})),
            ("/v1/commitments?sort=created_at", cursor({"s": "created_at", "v": [17, 1]})),
            (
                "/v1/commitments?sort=created_at",
                cursor({"s": "created_at", "v": ["2026-01-01T00:00:00", 1]}),
            ),
            ("/v1/commitments", cursor({"s": "id", "v": [2**70, 1]})),
            ("/v1/commitments", cursor({"s": "id", "v": [1, -(2**70)]})),
            ("/v1/ministries?sort=name", cursor({"s": "name", "v": ["a\u0000b", 1]})),
            ("/v1/ministries?sort=name", cursor({"s": "name", "v": [12, 1]})),
            ("/v1/provisions", cursor({"s": "key", "v": ["TIP-6", 6]})),
            ("/v1/provisions", cursor({"s": "key", "v": ["TIP-6", "TIP-\u0000"]})),
        ],
    )
    def test_is_422_problem(
        self, client: TestClient, session: Session, settings: Settings, path: str, tampered: str
    ) -> None:
        make_commitment(session, lead=make_ministry(session))
        joiner = "&" if "?" in path else "?"
        r = client.get(
            f"{path}{joiner}cursor={tampered}", headers=auth(settings, make_user(session))
        )
        body = problem(r, 422)
        assert body["errors"] == [{"loc": ["query", "cursor"], "msg": body["detail"]}]

    def test_an_untampered_cursor_round_trips(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        # The control for the test above: the same shapes, untampered, are accepted.
        headers = auth(settings, make_user(session))
        lead = make_ministry(session)
        ids = [make_commitment(session, lead=lead).id for _ in range(3)]
        r = client.get(
            f"/v1/commitments?cursor={cursor({'s': 'id', 'v': [ids[0], ids[0]]})}", headers=headers
        )
        assert [c["id"] for c in r.json()["items"]] == ids[1:]
        dated = cursor({"s": "due_date", "v": ["2000-01-01", 0]})
        r = client.get(f"/v1/commitments?sort=due_date&cursor={dated}", headers=headers)
        assert [c["id"] for c in r.json()["items"]] == ids
