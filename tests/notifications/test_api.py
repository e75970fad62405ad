"""The /v1/webhooks API's input rules and PATCH /v1/me, through the ASGI app."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.assertions import problem
from tests.credentials import auth
from tests.factories import make_api_key, make_ministry, make_user
from vpitracker.config import Settings
from vpitracker.vocab import Role


@pytest.fixture
def sec(session: Session, settings: Settings) -> dict[str, str]:
    return auth(settings, make_user(session, Role.secretariat))


def create(client: TestClient, headers: dict[str, str], **body: Any) -> Any:
    return client.post("/v1/webhooks", json={"events": ["ping"], **body}, headers=headers)


class TestCreateRefuses:
    @pytest.mark.parametrize(
        ("url", "why"),
        [
            ("http://hooks.example.org/in", "https"),
            ("https://127.0.0.1/in", "loopback"),
            ("https://10.1.2.3/in", "private"),
            ("https://169.254.169.254/latest/meta-data", "metadata"),
            ("https://[::1]/in", "loopback"),
            ("https://192.168.0.10/in", "private"),
            ("not a url", "pattern"),
            ("//no-scheme.example.org/x", "URL"),
            ("ftp://example.org/x", "URL"),
        ],
    )
    def test_urls_that_may_not_receive(
        self, client: TestClient, sec: dict[str, str], url: str, why: str
    ) -> None:
        body = problem(create(client, sec, url=url), 422)
        assert body["errors"][0]["loc"][-1] == "url", body
        assert why in str(body), body

    def test_an_unknown_event_type(self, client: TestClient, sec: dict[str, str]) -> None:
        r = client.post(
            "/v1/webhooks",
            json={"url": "https://93.184.215.14/in", "events": ["commitment.exploded"]},
            headers=sec,
        )
        body = problem(r, 422)
        assert "events" in body["errors"][0]["loc"]

    def test_unknown_fields(self, client: TestClient, sec: dict[str, str]) -> None:
        r = create(client, sec, url="https://93.184.215.14/in", secret="whsec_mine")
        problem(r, 422)

    def test_an_unknown_ministry(self, client: TestClient, sec: dict[str, str]) -> None:
        r = create(client, sec, url="https://93.184.215.14/in", ministry_ids=[999999])
        assert problem(r, 422)["errors"][0]["loc"][-1] == "ministry_ids"

    def test_a_public_https_address_is_accepted(
        self, client: TestClient, sec: dict[str, str]
    ) -> None:
        r = create(client, sec, url="https://93.184.215.14/in")
        assert r.status_code == 201, r.text
        assert r.headers["Location"] == f"/v1/webhooks/{r.json()['id']}"

    def test_private_addresses_are_allowed_when_configured(
        self, client: TestClient, sec: dict[str, str], settings: Settings
    ) -> None:
        client.app.state.settings = settings.model_copy(update={"webhook_allow_private": True})  # type: ignore[attr-defined]
        try:
            r = create(client, sec, url="http://127.0.0.1:9/in")
        finally:
            client.app.state.settings = settings  # type: ignore[attr-defined]
        assert r.status_code == 201, r.text


class TestMyNotificationSettings:
    def test_a_user_turns_mail_off_and_changes_language(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        officer = make_user(session, Role.government_officer, ministries=[make_ministry(session)])
        headers = auth(settings, officer)
        me = client.get("/v1/me", headers=headers)
        assert me.json()["notify"] == {"disputes": True, "digest": "weekly"}
        assert me.json()["language"] == "en"
        r = client.patch(
            "/v1/me",
            json={"notify": {"digest": "off"}, "language": "sw"},
            headers={**headers, "If-Match": me.headers["ETag"]},
        )
        assert r.status_code == 200, r.text
        assert r.json()["notify"] == {"disputes": True, "digest": "off"}
        assert client.get("/v1/me", headers=headers).json()["language"] == "sw"
        stale = client.patch(
            "/v1/me",
            json={"notify": {"disputes": False}},
            headers={**headers, "If-Match": me.headers["ETag"]},
        )
        assert stale.status_code == 412

    def test_if_match_is_required_and_bodies_are_checked(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        headers = auth(settings, make_user(session, Role.viewer))
        assert client.patch("/v1/me", json={"language": "sw"}, headers=headers).status_code == 428
        etag = client.get("/v1/me", headers=headers).headers["ETag"]
        for bad in ({"language": "fr"}, {"notify": {"digest": "daily"}}, {"role": "secretariat"}):
            r = client.patch("/v1/me", json=bad, headers={**headers, "If-Match": etag})
            problem(r, 422)

    def test_an_api_key_cannot(self, client: TestClient, session: Session) -> None:
        key = make_api_key(session, make_user(session, Role.secretariat))
        r = client.patch(
            "/v1/me", json={"language": "sw"}, headers={"X-API-Key": key, "If-Match": '"v1"'}
        )
        assert r.status_code in (401, 403)


def test_readyz_says_smtp_is_not_configured(client: TestClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200
    assert "SMTP is not configured" in r.json()["mail"]


def test_a_refused_url_is_explained_in_the_callers_language(
    client: TestClient, sec: dict[str, str]
) -> None:
    r = client.post(
        "/v1/webhooks",
        json={"url": "http://hooks.example.org/in", "events": ["ping"]},
        headers={**sec, "Accept-Language": "sw"},
    )
    body = problem(r, 422)
    assert body["detail"] == "Anwani ya URL lazima itumie https"
    assert body["errors"] == [{"loc": ["body", "url"], "msg": body["detail"]}]
