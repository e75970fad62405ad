"""Every page route, as every kind of caller: the pages' side of the authorization matrix.

Page routes are not in the OpenAPI document, so ``tests/test_authorization_matrix.py``
cannot see them; this table is compared with the app's page routes both ways.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.factories import make_commitment, make_ministry, make_user
from tests.web.test_pages import csrf, sign_in, web  # noqa: F401 - the fixture
from vpitracker.vocab import Role
from vpitracker.web.pages import PageRoute
from vpitracker.web.router import router

ANON, VIEWER, OFFICER, MEMBER, SEC = "anonymous", "viewer", "officer", "member", "secretariat"
SIGNED_IN = {VIEWER, OFFICER, MEMBER, SEC}
EVERYONE = SIGNED_IN | {ANON}

PAGE_POLICY: dict[str, set[str]] = {
    "GET /login": EVERYONE,
    "POST /login": EVERYONE,
    "GET /logout": EVERYONE,
    "POST /logout": EVERYONE,
    "GET /": SIGNED_IN,  # and anonymous with VPI_PUBLIC_READ=true
    "GET /commitments": SIGNED_IN,
    "GET /commitments/{commitment_id}": SIGNED_IN,
    "POST /commitments/{commitment_id}/status-updates": {OFFICER, SEC},
    "POST /commitments/{commitment_id}/assessments": {MEMBER, SEC},
    "GET /ministries/{ministry_id}": SIGNED_IN,
    "GET /my": SIGNED_IN,
    "GET /audit": {MEMBER, SEC},
    "GET /reports/{name}.csv": SIGNED_IN,
}


def page_routes() -> list[str]:
    assert all(isinstance(route, PageRoute) for route in router.routes)
    return sorted(
        f"{method} {route.path}"
        for route in router.routes
        if isinstance(route, PageRoute)
        for method in route.methods or ()
    )


def test_every_page_route_has_a_decision() -> None:
    routes = set(page_routes())
    assert routes - set(PAGE_POLICY) == set(), "page routes without a decision"
    assert set(PAGE_POLICY) - routes == set(), "decisions for page routes that do not exist"


@pytest.mark.parametrize("route", sorted(PAGE_POLICY))
def test_page_answers_each_caller_as_designed(
    web: TestClient,  # noqa: F811 - the fixture
    session: Session,
    route: str,
) -> None:
    ministry = make_ministry(session)
    commitment = make_commitment(session, lead=ministry)
    users = {
        VIEWER: make_user(session, Role.viewer),
        OFFICER: make_user(session, Role.government_officer, ministries=[ministry]),
        MEMBER: make_user(session, Role.alliance_member),
        SEC: make_user(session, Role.secretariat),
    }
    method, template = route.split(" ", 1)
    path = template.format(commitment_id=commitment.id, ministry_id=ministry.id, name="commitments")
    for caller in (ANON, VIEWER, OFFICER, MEMBER, SEC):
        web.cookies.clear()
        if caller != ANON:
            sign_in(web, users[caller])
        kwargs: dict[str, Any] = {}
        if method == "POST":
            kwargs["data"] = {"csrf_token": csrf(web, "/logout")}
        r = web.request(method, path, **kwargs)
        allowed = caller in PAGE_POLICY[route]
        refused_anon = r.status_code == 303 and r.headers["location"].startswith("/login?next=")
        if allowed:
            assert r.status_code < 500, f"{caller} got {r.status_code} on {route}"
            assert r.status_code != 403, f"{caller} refused on {route}"
            assert not refused_anon, f"{caller} sent to sign in on {route}"
        elif caller == ANON:
            assert refused_anon, f"anonymous got {r.status_code} on {route}"
        else:
            assert r.status_code == 403, f"{caller} got {r.status_code} on {route}"
