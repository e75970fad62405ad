"""Problem title and detail follow Accept-Language; the machine fields never change."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.assertions import problem
from tests.credentials import auth
from tests.factories import make_ministry, make_user
from vpitracker.config import Settings
from vpitracker.vocab import Role

MACHINE = ("type", "status")


def both(
    client: TestClient, method: str, path: str, status: int, **kwargs: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same request answered in English and in Kiswahili (sw-KE)."""
    headers = kwargs.pop("headers", {})
    en = client.request(method, path, headers={**headers, "Accept-Language": "en"}, **kwargs)
    sw = client.request(method, path, headers={**headers, "Accept-Language": "sw-KE"}, **kwargs)
    assert sw.headers["Content-Language"] == "sw"
    assert en.headers["Content-Language"] == "en"
    en_body, sw_body = problem(en, status), problem(sw, status)
    for field in MACHINE:
        assert en_body[field] == sw_body[field]
    return en_body, sw_body


def test_own_not_found_is_translated_with_its_parameters(
    client: TestClient, session: Session, settings: Settings
) -> None:
    headers = auth(settings, make_user(session))
    en, sw = both(client, "GET", "/v1/commitments/999999", 404, headers=headers)
    assert en["title"] == "Not found"
    assert en["detail"] == "No commitment with id 999999"
    assert sw["title"] == "Haipatikani"
    assert sw["detail"] == "Hakuna ahadi yenye nambari 999999"
    assert sw["type"] == "https://vpitracker.org/problems/not-found"


def test_forbidden_keeps_role_values_as_machine_words(
    client: TestClient, session: Session, settings: Settings
) -> None:
    headers = auth(settings, make_user(session, Role.viewer))
    body = {"code": "X1", "name": "Wizara ya Usalama", "kind": "ministry"}
    en, sw = both(client, "POST", "/v1/ministries", 403, headers=headers, json=body)
    assert en["detail"] == "This needs the role secretariat; you are viewer"
    assert sw["title"] == "Hairuhusiwi"
    assert sw["detail"] == "Hatua hii inahitaji jukumu la secretariat; jukumu lako ni viewer"


def test_own_validation_error_translates_detail_and_msg_not_loc(
    client: TestClient, session: Session, settings: Settings
) -> None:
    headers = auth(settings, make_user(session))
    en, sw = both(client, "GET", "/v1/commitments?cursor=garbage", 422, headers=headers)
    assert en["errors"][0]["loc"] == sw["errors"][0]["loc"] == ["query", "cursor"]
    assert sw["title"] == "Maudhui hayawezi kushughulikiwa"
    assert sw["detail"] == "Kiashiria cha ukurasa (cursor) si halali kwa orodha hii"
    assert sw["errors"][0]["msg"] == sw["detail"]


def test_body_validation_translates_title_and_detail_keeps_errors(
    client: TestClient, session: Session, settings: Settings
) -> None:
    headers = auth(settings, make_user(session))
    body = {"code": "", "kind": "galaxy"}
    en, sw = both(client, "POST", "/v1/ministries", 422, headers=headers, json=body)
    assert en["title"] == "Unprocessable content"
    assert sw["title"] == "Maudhui hayawezi kushughulikiwa"
    assert sw["detail"].startswith("Kosa katika body.")
    assert en["detail"] in sw["detail"]  # pydantic's message stays as it is
    assert en["errors"] == sw["errors"]


def test_conflict_detail_keeps_the_code_as_written(
    client: TestClient, session: Session, settings: Settings
) -> None:
    headers = auth(settings, make_user(session))
    taken = make_ministry(session).code
    body = {"code": taken, "name": "Wizara ya Mambo ya Ndani", "kind": "ministry"}
    en, sw = both(client, "POST", "/v1/ministries", 409, headers=headers, json=body)
    assert en["detail"] == f"A ministry with code {taken!r} already exists"
    assert sw["detail"] == f"Wizara yenye msimbo {taken!r} tayari ipo"


@pytest.mark.parametrize(
    ("method", "path", "status", "title"),
    [
        ("GET", "/v1/nope", 404, "Haipatikani"),
        ("DELETE", "/v1/ministries", 405, "Njia ya ombi hairuhusiwi"),
        ("GET", "/v1/me", 401, "Hujathibitishwa"),
    ],
)
def test_framework_and_auth_problems_are_translated(
    client: TestClient, method: str, path: str, status: int, title: str
) -> None:
    en, sw = both(client, method, path, status)
    assert sw["title"] == title
    assert sw["detail"] != en["detail"]


@pytest.mark.parametrize(
    ("accept", "title"),
    [
        ("sw", "Haipatikani"),
        ("SW-ke", "Haipatikani"),
        ("en;q=0.4, sw;q=0.9", "Haipatikani"),
        ("sw;q=0.4, en;q=0.9", "Not found"),
        ("fr, de", "Not found"),
        ("sw;q=0", "Not found"),
        ("*", "Not found"),
    ],
)
def test_accept_language_quality_values(
    client: TestClient, session: Session, settings: Settings, accept: str, title: str
) -> None:
    headers = {**auth(settings, make_user(session)), "Accept-Language": accept}
    assert problem(client.get("/v1/ministries/999999", headers=headers), 404)["title"] == title


def test_no_accept_language_is_english(
    client: TestClient, session: Session, settings: Settings
) -> None:
    r = client.get("/v1/ministries/999999", headers=auth(settings, make_user(session)))
    assert problem(r, 404)["detail"] == "No ministry with id 999999"


def test_problems_answered_before_any_route_follow_the_language_too(
    client: TestClient,
) -> None:
    # The request limits answer from middleware, before the app's handlers run (on the
    # pages; on the API a NUL waits for the credential checks, then is the same 422).
    en, sw = both(client, "GET", "/commitments?q=a%00b", 422)
    assert en["detail"] == "NUL characters are not allowed in URLs"
    assert sw["detail"] == "Herufi za NUL haziruhusiwi katika anwani za URL"
    assert sw["title"] == "Maudhui hayawezi kushughulikiwa"
    big = b"x" * (1024 * 1024 + 1)
    en, sw = both(client, "POST", "/v1/ministries", 413, content=big)
    assert en["detail"] == f"Request bodies are limited to {1024 * 1024} bytes"
    assert sw["detail"] == f"Kiini cha ombi hakiwezi kuzidi baiti {1024 * 1024}"
