"""Pages in Kiswahili: every template string comes from the catalog; records stay as written."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.factories import PASSWORD, make_commitment, make_ministry, make_user
from vpitracker.i18n import gettext
from vpitracker.vocab import Role

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TITLE = "Kuanzisha dawati la kitaifa la kupambana na biashara haramu ya binadamu"


@pytest.fixture
def web(client: TestClient, session: Session) -> TestClient:
    client.base_url = httpx.URL("https://testserver")
    client.follow_redirects = False
    make_commitment(session, lead=make_ministry(session), title=TITLE)
    member = make_user(session, Role.alliance_member)
    token = CSRF.search(client.get("/login?lang=sw").text)
    assert token
    r = client.post(
        "/login",
        data={"username": member.email, "password": PASSWORD, "csrf_token": token.group(1)},
    )
    assert r.status_code == 303, r.text
    return client


@pytest.mark.parametrize(
    ("path", "english"),
    [
        ("/", ["Scorecard", "Headline figures", "Sign out", "Skip to content"]),
        ("/commitments", ["Commitments matching the filters", "Filter", "Due"]),
    ],
)
def test_pages_speak_kiswahili_and_keep_what_people_wrote(
    web: TestClient, path: str, english: list[str]
) -> None:
    page = web.get(path)
    assert page.status_code == 200, page.text
    html = page.text
    assert '<html lang="sw">' in html
    for text in english:
        assert gettext("sw", text) in html, text
        assert f">{text}<" not in html, text
    if path == "/commitments":
        assert TITLE in html


def test_the_sign_in_page_in_kiswahili(client: TestClient) -> None:
    html = client.get("/login", headers={"Accept-Language": "sw-KE"}).text
    assert '<html lang="sw">' in html
    assert "Nenosiri" in html
    assert "Barua pepe" in html
