"""Credentials and roles are checked before input, and every 422 has one problem type.

A caller who may not make a request learns 401 or 403 from it, never whether its
input would have been valid; a caller who may gets the 422, of the same ``type``
whatever found the problem (FastAPI's validation, pydantic, a NUL in the URL, a body
that is not JSON, a check of the service's own).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine
from sqlmodel import Session

from tests.assertions import problem
from tests.credentials import auth, headers_as
from tests.factories import make_api_key, make_user
from vpitracker.config import Settings
from vpitracker.deps import PageReader, get_session
from vpitracker.vocab import Role

VALIDATION = "https://vpitracker.org/problems/validation-error"


class Case(NamedTuple):
    method: str
    url: str
    body: bytes | None
    content_type: str | None
    refused: str  # a caller the route refuses with 403
    allowed: str  # a caller the route lets in: it gets the 422


JSON = "application/json"
CASES = {
    # The example: NUL in the query of a secretariat-only list.
    "nul-in-query": Case(
        "GET", "/v1/users?sort=a%00b", None, None, "government_officer", "secretariat"
    ),
    "nul-in-path": Case("GET", "/v1/users/1%00", None, None, "viewer", "secretariat"),
    "query-out-of-range": Case("GET", "/v1/users?limit=0", None, None, "api_key", "secretariat"),
    "query-not-a-number": Case(
        "GET", "/v1/audit/events?limit=abc", None, None, "viewer", "secretariat"
    ),
    "body-not-json": Case(
        "POST", "/v1/users", b"{not json", JSON, "alliance_member", "secretariat"
    ),
    "body-wrong-types": Case(
        "POST", "/v1/ministries", b'{"code": 5}', JSON, "api_key", "secretariat"
    ),
    "body-with-nul": Case(
        "POST",
        "/v1/ministries",
        b'{"code": "M\\u0000", "name": "N", "kind": "agency"}',
        JSON,
        "viewer",
        "secretariat",
    ),
    "import-not-json": Case(
        "POST",
        "/v1/imports/ministries?dry_run=maybe",
        b"{",
        JSON,
        "government_officer",
        "secretariat",
    ),
    "own-check": Case(
        "GET", "/v1/webhooks?sort=nonsense", None, None, "alliance_member", "secretariat"
    ),
    "me-not-json": Case("PATCH", "/v1/me", b"{bad", JSON, "api_key", "viewer"),
    "assessment-not-json": Case(
        "POST", "/v1/commitments/1/assessments", b"[", JSON, "government_officer", "alliance_member"
    ),
}
# Routes that any caller with credentials may call: only 401 comes before their 422.
READER_CASES = {
    "reader-nul-in-path": Case("GET", "/v1/provisions/TIP-%00", None, None, "", "viewer"),
    "reader-own-check": Case("GET", "/v1/commitments?sort=nonsense", None, None, "", "api_key"),
    "report-nul-in-query": Case("GET", "/v1/progress/summary?as_of=%00", None, None, "", "api_key"),
    "report-bad-date": Case("GET", "/v1/reports/commitments?as_of=soon", None, None, "", "viewer"),
    "log-nul-in-query": Case("GET", "/v1/audit/proof/inclusion?seq=%00", None, None, "", "viewer"),
}
EVERY_CASE = {**CASES, **READER_CASES}


def send(client: TestClient, case: Case, headers: dict[str, str]) -> object:
    if case.content_type is not None:
        headers = {**headers, "Content-Type": case.content_type}
    return client.request(case.method, case.url, content=case.body, headers=headers)


@pytest.mark.parametrize("name", list(EVERY_CASE))
def test_without_credentials_it_is_401(client: TestClient, name: str) -> None:
    r = send(client, EVERY_CASE[name], {})

    problem(r, 401)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", list(CASES))
def test_a_caller_without_the_role_gets_403(
    client: TestClient, session: Session, settings: Settings, name: str
) -> None:
    case = CASES[name]

    r = send(client, case, headers_as(session, settings, case.refused))

    assert problem(r, 403)["type"] == "https://vpitracker.org/problems/forbidden"  # type: ignore[arg-type]


@pytest.mark.parametrize("name", list(EVERY_CASE))
def test_a_caller_who_may_gets_the_one_validation_problem(
    client: TestClient, session: Session, settings: Settings, name: str
) -> None:
    # The other order: with the right credentials the input is still checked.
    case = EVERY_CASE[name]

    r = send(client, case, headers_as(session, settings, case.allowed))

    body = problem(r, 422)  # type: ignore[arg-type]
    assert body["type"] == VALIDATION, body
    assert body["title"] == "Unprocessable content"


def test_nul_on_a_page_is_the_same_validation_problem(client: TestClient) -> None:
    # Pages answer NUL at once (their sign-in is a cookie and a redirect), as the same 422.
    body = problem(client.get("/commitments?q=%00"), 422)

    assert body["type"] == VALIDATION


# List pages and progress figures check their caller in their read's own thread hop
# (resources.checked_read),
# after FastAPI has validated the parameters: a caller the database no longer holds
# still learns 401 (and one without the role 403), never the 422 of its input.
LIST_CASES = {
    "page-limit-out-of-range": "/v1/commitments?limit=0",
    "filter-not-a-number": "/v1/commitments?ministry_id=abc",
    "as-of-not-a-date": "/v1/commitments?as_of=soon",
    "own-param-not-in-vocabulary": "/v1/ministries?kind=nonsense",
    "path-out-of-range": "/v1/commitments/0/status-updates?limit=5",
    "nul-in-query": "/v1/provisions?sort=a%00b",
    "bad-date-time": "/v1/status-updates?since=soon",
    "figures-filter-out-of-range": "/v1/progress/clusters?ministry_id=0",
    "figures-interval-not-in-vocabulary": "/v1/progress/timeline?interval=week",
    "figures-nul-in-query": "/v1/progress/summary?as_of=%00",
}
SECRETARIAT_LISTS = ("/v1/users?limit=0", "/v1/api-keys?limit=0", "/v1/webhooks?limit=0")


def _deactivated(session: Session, settings: Settings) -> dict[str, str]:
    user = make_user(session, Role.secretariat)
    headers = auth(settings, user)
    user.is_active = False
    session.add(user)
    session.commit()
    return headers


@pytest.mark.parametrize("name", list(LIST_CASES))
def test_a_list_page_answers_a_caller_no_longer_valid_before_its_input(
    client: TestClient, session: Session, settings: Settings, name: str
) -> None:
    url = LIST_CASES[name]
    assert problem(client.get(url, headers=headers_as(session, settings, "viewer")), 422)

    r = client.get(url, headers=_deactivated(session, settings))

    body = problem(r, 401)
    assert body["detail"] == "The sign-in is no longer valid: sign in again"
    assert "Basic" in r.headers["WWW-Authenticate"]


@pytest.mark.parametrize("url", SECRETARIAT_LISTS)
def test_a_secretariat_list_answers_401_then_403_before_its_input(
    client: TestClient, session: Session, settings: Settings, url: str
) -> None:
    assert problem(client.get(url, headers=headers_as(session, settings, "secretariat")), 422)
    assert problem(client.get(url, headers=headers_as(session, settings, "viewer")), 403)

    r = client.get(url, headers=_deactivated(session, settings))

    assert problem(r, 401)["detail"] == "The sign-in is no longer valid: sign in again"
    assert "Basic" not in r.headers["WWW-Authenticate"]


def test_a_key_whose_creator_left_is_refused_before_the_input(
    client: TestClient, session: Session
) -> None:
    creator = make_user(session, Role.secretariat)
    key = make_api_key(session, creator)
    bad_figures = f"/v1/progress/clusters?ministry_id=0&api_key={key}"
    assert client.get("/v1/ministries?limit=5", headers={"X-API-Key": key}).status_code == 200
    assert problem(client.get(bad_figures), 422)
    creator.is_active = False
    session.add(creator)
    session.commit()

    page = client.get("/v1/ministries?limit=5", headers={"X-API-Key": key})
    figures = client.get(bad_figures)

    for r in (page, figures):
        assert problem(r, 401)["detail"] == "The API key's creator has been deactivated"


def test_a_deferred_check_that_never_runs_fails_the_request(
    connection: Connection, engine: Engine, session: Session, settings: Settings
) -> None:
    # A route that takes a page's gate but forgets its check must not answer 200.
    app = FastAPI()
    app.state.settings = settings
    app.state.engine = app.state.read_engine = engine

    @app.get("/forgot")
    async def forgot(_caller: PageReader) -> dict[str, str]:
        return {"status": "ok"}

    def bound(_request: Request) -> Iterator[Session]:
        with Session(bind=connection, join_transaction_mode="create_savepoint") as s:
            yield s

    app.dependency_overrides[get_session] = bound
    headers = headers_as(session, settings, "viewer")
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/forgot", headers=headers).status_code == 500
