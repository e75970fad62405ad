"""The OpenAPI document's ``security`` tells the truth, operation by operation.

Walks the served document and proves by real requests that every scheme an
operation declares works there and every scheme it does not declare is refused;
a 401 offers Basic exactly where Basic is declared, and a tool that sends Basic
credentials only after that challenge (urllib's HTTPBasicAuthHandler) reads.
"""

from __future__ import annotations

import base64
import json
import urllib.request
from collections.abc import Iterator
from functools import cache
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.credentials import token_for
from tests.factories import make_api_key, make_user
from tests.live import LiveServer, prepare, serve
from vpitracker.config import Settings
from vpitracker.openapi_doc import render
from vpitracker.vocab import Role

SCHEMES = ("Bearer", "ApiKeyHeader", "ApiKeyQuery", "Basic")
KEY_SCHEMES = frozenset(SCHEMES) - {"Bearer"}
WRITES = frozenset({"post", "put", "patch", "delete"})
REFUSED = frozenset({401, 403})


@cache
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(render())
    return loaded


def operations() -> list[tuple[str, str]]:
    """(method, path) of every operation of the API, sign-in excepted."""
    return [
        (method, path)
        for path, item in document()["paths"].items()
        for method in item
        if path.startswith("/v1/") and path != "/v1/auth/token"
    ]


def declared(method: str, path: str) -> set[str]:
    requirements = document()["paths"][path][method].get("security") or []
    return {name for requirement in requirements for name in requirement}


def url_for(method: str, path: str) -> str:
    """``path`` with its path parameters filled in (an id or key that may not exist)."""
    operation = document()["paths"][path][method]
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            integer = parameter["schema"].get("type") == "integer"
            path = path.replace("{" + parameter["name"] + "}", "1" if integer else "TIP-1")
    return path


def send(
    client: TestClient,
    method: str,
    path: str,
    headers: dict[str, str],
    params: dict[str, str] | None = None,
) -> httpx.Response:
    body = b"{}" if "requestBody" in document()["paths"][path][method] else None
    return client.request(
        method.upper(),
        url_for(method, path),
        headers={**headers, "Content-Type": "application/json"} if body else headers,
        params=params,
        content=body,
    )


def credential(
    session: Session, settings: Settings, scheme: str
) -> tuple[dict[str, str], dict[str, str]]:
    """(headers, query) of a new valid credential sent the ``scheme`` way."""
    user = make_user(session, Role.secretariat)
    if scheme == "Bearer":
        return {"Authorization": f"Bearer {token_for(settings, user)}"}, {}
    key = make_api_key(session, user)
    if scheme == "ApiKeyHeader":
        return {"X-API-Key": key}, {}
    if scheme == "Basic":
        return {"Authorization": "Basic " + base64.b64encode(f"x:{key}".encode()).decode()}, {}
    return {}, {"api_key": key}


def test_every_api_operation_declares_who_may_call_it() -> None:
    # Every operation has a gate (deps/callers.py): its schemes, and the check that input
    # problems wait for (a route without one would take NUL into the database).
    for method, path in operations():
        assert declared(method, path), (method, path)
        assert declared(method, path) <= set(SCHEMES), (method, path)
    assert set(document()["components"]["securitySchemes"]) == set(SCHEMES)


def test_no_write_offers_an_api_key_and_the_query_key_only_on_reports() -> None:
    for method, path in operations():
        schemes = declared(method, path)
        if method in WRITES:
            assert schemes == {"Bearer"}, (method, path, schemes)
        reports = path.startswith(("/v1/progress/", "/v1/reports/")) or path == "/v1/vocabulary"
        assert ("ApiKeyQuery" in schemes) == reports, (method, path, schemes)
    # Basic is declared wherever an API key in a header is: it carries the same key.
    for method, path in operations():
        schemes = declared(method, path)
        assert ("Basic" in schemes) == ("ApiKeyHeader" in schemes), (method, path)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize(("method", "path"), operations())
def test_a_declared_scheme_works_and_an_undeclared_one_is_refused(
    client: TestClient,
    session: Session,
    settings: Settings,
    method: str,
    path: str,
    scheme: str,
) -> None:
    headers, params = credential(session, settings, scheme)

    r = send(client, method, path, headers, params)

    if scheme in declared(method, path):
        # Past the credential checks: the answer is about the request (2xx, 404, 422...).
        assert r.status_code not in REFUSED, (scheme, r.status_code, r.text)
    elif method in WRITES and scheme != "ApiKeyQuery":
        # An API key is known but read-only.
        assert r.status_code == 403, (scheme, r.status_code, r.text)
    else:
        assert r.status_code in REFUSED, (scheme, r.status_code, r.text)


@pytest.mark.parametrize(("method", "path"), operations())
def test_a_401_offers_basic_exactly_where_basic_is_declared(
    client: TestClient, method: str, path: str
) -> None:
    r = send(client, method, path, {})

    assert r.status_code == 401, r.text
    challenge = r.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="vpitracker"')
    assert ('Basic realm="vpitracker"' in challenge) == ("Basic" in declared(method, path))


@pytest.mark.parametrize(
    "path", ["/v1/progress/summary", "/v1/reports/commitments", "/v1/commitments", "/v1/me"]
)
def test_the_served_document_is_the_rendered_one(client: TestClient, path: str) -> None:
    served = client.get("/openapi.json").json()

    assert served["paths"][path]["get"]["security"] == document()["paths"][path]["get"]["security"]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    database = tmp_path_factory.mktemp("basic") / "live.db"
    with serve(prepare(f"sqlite:///{database}")) as server:
        r = httpx.post(
            f"{server.url}/v1/api-keys",
            json={"name": "spreadsheet"},
            headers={"Authorization": f"Bearer {server.token()}"},
        )
        assert r.status_code == 201, r.text
        yield server, str(r.json()["key"])


def basic_opener(server: LiveServer, key: str) -> urllib.request.OpenerDirector:
    """What Python's dashboards do: Basic credentials, sent only once challenged."""
    passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    passwords.add_password(None, server.url, "dashboard", key)
    return urllib.request.build_opener(urllib.request.HTTPBasicAuthHandler(passwords))


@pytest.mark.parametrize(
    "path",
    [
        "/v1/progress/summary",
        "/v1/reports/commitments",
        "/v1/vocabulary",
        "/v1/commitments",
        "/v1/ministries",
        "/v1/me",
        "/v1/audit/checkpoint",
    ],
)
def test_urllib_basic_auth_handler_reads_where_basic_is_declared(
    live: tuple[LiveServer, str], path: str
) -> None:
    server, key = live
    assert "Basic" in declared("get", path)

    with basic_opener(server, key).open(f"{server.url}{path}", timeout=30) as answer:
        assert answer.status == 200
        assert answer.read()
