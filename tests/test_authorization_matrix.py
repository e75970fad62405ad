"""Every route, called as every kind of caller, against the roles in docs/concepts.md.

The table below is keyed by ``METHOD path`` and generated routes are compared
with it both ways: a route added without a decision here fails the build. A refused
caller gets a problem: 401 (with a Bearer challenge) without a valid credential, 403
with one; every way a bearer token can be wrong is a 401 on every route that needs one.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.assertions import problem
from tests.credentials import BAD_CREDENTIALS, auth, bad_auth
from tests.factories import make_ministry, make_user
from vpitracker.apikeys import service as apikeys_service
from vpitracker.config import Settings
from vpitracker.kernel.credentials import actor_for_user
from vpitracker.openapi_doc import render
from vpitracker.vocab import Role

SEC, MEMBER, OFFICER, VIEWER, KEY, ANON = (
    "secretariat",
    "alliance_member",
    "government_officer",
    "viewer",
    "api_key",
    "anonymous",
)
READERS = {SEC, MEMBER, OFFICER, VIEWER, KEY}
SIGNED_IN = {SEC, MEMBER, OFFICER, VIEWER}
EVERYONE = READERS | {ANON}
ONLY_SEC = {SEC}

POLICY: dict[str, set[str]] = {
    "POST /v1/auth/token": EVERYONE,
    "GET /v1/me": READERS,
    "POST /v1/auth/sign-out-everywhere": SIGNED_IN,
    "GET /v1/users": ONLY_SEC,
    "POST /v1/users": ONLY_SEC,
    "GET /v1/users/{user_id}": ONLY_SEC,
    "PATCH /v1/users/{user_id}": ONLY_SEC,
    "GET /v1/api-keys": ONLY_SEC,
    "POST /v1/api-keys": ONLY_SEC,
    "DELETE /v1/api-keys/{key_id}": ONLY_SEC,
    "GET /v1/ministries": READERS,
    "POST /v1/ministries": ONLY_SEC,
    "GET /v1/ministries/{ministry_id}": READERS,
    "PATCH /v1/ministries/{ministry_id}": ONLY_SEC,
    "POST /v1/ministries/{ministry_id}/archive": ONLY_SEC,
    "GET /v1/provisions": READERS,
    "POST /v1/provisions": ONLY_SEC,
    "GET /v1/provisions/{key}": READERS,
    "PATCH /v1/provisions/{key}": ONLY_SEC,
    "GET /v1/recommendations": READERS,
    "POST /v1/recommendations": ONLY_SEC,
    "GET /v1/recommendations/{recommendation_id}": READERS,
    "PATCH /v1/recommendations/{recommendation_id}": ONLY_SEC,
    "POST /v1/recommendations/{recommendation_id}/archive": ONLY_SEC,
    "GET /v1/commitments": READERS,
    "POST /v1/commitments": ONLY_SEC,
    "GET /v1/commitments/{commitment_id}": READERS,
    "PATCH /v1/commitments/{commitment_id}": ONLY_SEC,
    "POST /v1/commitments/{commitment_id}/archive": ONLY_SEC,
    "GET /v1/commitments/{commitment_id}/status-updates": READERS,
    "POST /v1/commitments/{commitment_id}/status-updates": {SEC, OFFICER},
    "GET /v1/status-updates": READERS,
    "GET /v1/status-updates/{update_id}": READERS,
    "GET /v1/commitments/{commitment_id}/assessments/{assessment_id}": READERS,
    "GET /v1/assessments/{assessment_id}": READERS,
    "GET /v1/commitments/{commitment_id}/assessments": READERS,
    "POST /v1/commitments/{commitment_id}/assessments": {SEC, MEMBER},
    "GET /v1/progress/summary": READERS,
    "GET /v1/progress/ministries": READERS,
    "GET /v1/progress/clusters": READERS,
    "GET /v1/progress/instruments": READERS,
    "GET /v1/progress/timeline": READERS,
    "GET /v1/reports/commitments": READERS,
    "GET /v1/reports/recommendations": READERS,
    "GET /v1/reports/status-history": READERS,
    "GET /v1/changes": READERS,
    "GET /v1/audit/events": ONLY_SEC,
    "GET /v1/audit/verify": {SEC, MEMBER},
    "GET /v1/audit/checkpoint": READERS,
    "GET /v1/audit/proof/inclusion": READERS,
    "GET /v1/audit/proof/consistency": READERS,
    "GET /v1/audit/events/{seq}": READERS,
    "POST /v1/imports/{kind}": ONLY_SEC,
    "GET /v1/vocabulary": READERS,
    "GET /healthz": EVERYONE,
    "GET /readyz": EVERYONE,
    "PATCH /v1/me": SIGNED_IN,
    "GET /v1/webhooks": ONLY_SEC,
    "POST /v1/webhooks": ONLY_SEC,
    "GET /v1/webhooks/{subscription_id}": ONLY_SEC,
    "PATCH /v1/webhooks/{subscription_id}": ONLY_SEC,
    "DELETE /v1/webhooks/{subscription_id}": ONLY_SEC,
    "POST /v1/webhooks/{subscription_id}/rotate-secret": ONLY_SEC,
    "POST /v1/webhooks/{subscription_id}/ping": ONLY_SEC,
    "GET /v1/webhooks/{subscription_id}/deliveries": ONLY_SEC,
    "POST /v1/webhooks/{subscription_id}/deliveries/{delivery_id}/retry": ONLY_SEC,
}

PATH_VALUES = {
    "user_id": "999999",
    "key_id": "999999",
    "ministry_id": "999999",
    "recommendation_id": "999999",
    "commitment_id": "999999",
    "update_id": "999999",
    "assessment_id": "999999",
    "key": "TIP-6",
    "kind": "ministries",
    "seq": "1",
    "subscription_id": "999999",
    "delivery_id": "999999",
}


def documented_routes() -> list[str]:
    paths: dict[str, Any] = json.loads(render())["paths"]
    return sorted(
        f"{method.upper()} {path}"
        for path, operations in paths.items()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    )


def test_every_route_has_a_decision() -> None:
    routes = set(documented_routes())
    assert routes - set(POLICY) == set(), "routes without an authorization decision"
    assert set(POLICY) - routes == set(), "decisions for routes that no longer exist"


def request_kwargs(method: str, headers: dict[str, str]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"headers": headers}
    if method in {"POST", "PATCH"}:
        kwargs["json"] = {}
        if method == "PATCH":
            kwargs["headers"] = {**headers, "If-Match": '"v1"'}
    return kwargs


@pytest.fixture
def callers(session: Session, settings: Settings) -> dict[str, dict[str, str]]:
    ministry = make_ministry(session)
    users = {
        SEC: make_user(session, Role.secretariat),
        MEMBER: make_user(session, Role.alliance_member),
        OFFICER: make_user(session, Role.government_officer, ministries=[ministry]),
        VIEWER: make_user(session, Role.viewer),
    }
    _, secret = apikeys_service.create(session, actor_for_user(session, users[SEC]), "matrix")
    session.commit()
    headers = {name: auth(settings, user) for name, user in users.items()}
    headers[KEY] = {"X-API-Key": secret}
    headers[ANON] = {}
    return headers


@pytest.mark.parametrize("route", documented_routes())
def test_route_answers_each_caller_as_designed(
    client: TestClient, callers: dict[str, dict[str, str]], route: str
) -> None:
    method, template = route.split(" ", 1)
    path = template.format(**PATH_VALUES)
    for caller, headers in callers.items():
        r = client.request(method, path, **request_kwargs(method, headers))
        if caller in POLICY[route]:
            assert r.status_code not in (401, 403), f"{caller} refused on {route}: {r.status_code}"
            assert r.status_code < 500, f"{caller} got {r.status_code} on {route}"
        else:
            problem(r, 401 if caller == ANON else 403)


@pytest.mark.parametrize("route", [r for r in documented_routes() if ANON not in POLICY[r]])
def test_a_bad_bearer_token_is_401_on_every_route_that_needs_credentials(
    client: TestClient, session: Session, settings: Settings, route: str
) -> None:
    method, template = route.split(" ", 1)
    path = template.format(**PATH_VALUES)
    user = make_user(session, Role.secretariat)
    for kind in BAD_CREDENTIALS:
        r = client.request(method, path, **request_kwargs(method, bad_auth(settings, user, kind)))
        assert r.status_code == 401, f"{kind} on {route}: {r.status_code}"
        problem(r, 401)
