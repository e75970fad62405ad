"""Credentials and roles are checked before input, and every 422 has one problem type.

A caller who may not make a request learns 401 or 403 from it, never whether its
input would have been valid; a caller who may gets the 422, of the same ``type``
whatever found the problem (FastAPI's validation, pydantic, a NUL in the URL, a body
that is not JSON, a check of the service's own).
"""

from __future__ import annotations

from typing import NamedTuple

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.assertions import problem
from tests.credentials import headers_as
from vpitracker.config import Settings

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
