"""One credential per request: any two are one 401, valid or not (README, Authentication)."""

from __future__ import annotations

import base64
import itertools

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.assertions import problem
from tests.credentials import token_for
from tests.factories import make_api_key, make_user
from vpitracker.config import Settings
from vpitracker.vocab import Role

# Where a credential can be sent, and how the 401 names it.
PLACES = {
    "bearer": "Authorization: Bearer",
    "basic": "Authorization: Basic",
    "x_api_key": "X-API-Key",
    "query": "?api_key=",
}
# Every pair of places, the same place twice included (two X-API-Key headers, ...).
PAIRS = list(itertools.combinations_with_replacement(PLACES, 2))
# Which of the two credentials is a real one: both, only the first, only the second.
VALIDITY = [(True, True), (True, False), (False, True)]
# A report (takes every kind, the query too), a collection and /v1/me.
PATHS = ("/v1/progress/summary", "/v1/commitments", "/v1/me")
BOGUS_KEY = "vpi_" + "x" * 43
Pairs = list[tuple[str, str]]


class Callers:
    def __init__(self, session: Session, settings: Settings) -> None:
        user = make_user(session, Role.secretariat)
        self.token = token_for(settings, user)
        self.key = make_api_key(session, user)

    def credential(self, place: str, valid: bool) -> tuple[Pairs, Pairs]:
        """(headers, query parameters) carrying one credential sent at ``place``."""
        key = self.key if valid else BOGUS_KEY
        if place == "bearer":
            token = self.token if valid else "not.a.jwt"
            return [("Authorization", f"Bearer {token}")], []
        if place == "basic":
            encoded = base64.b64encode(f"dashboard:{key}".encode()).decode()
            return [("Authorization", f"Basic {encoded}")], []
        if place == "x_api_key":
            return [("X-API-Key", key)], []
        return [], [("api_key", key)]


@pytest.fixture
def callers(session: Session, settings: Settings) -> Callers:
    return Callers(session, settings)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("validity", VALIDITY, ids=["both-valid", "second-bogus", "first-bogus"])
@pytest.mark.parametrize("pair", PAIRS, ids=["+".join(p) for p in PAIRS])
def test_two_credentials_are_one_401_naming_both(
    client: TestClient,
    callers: Callers,
    pair: tuple[str, str],
    validity: tuple[bool, bool],
    path: str,
) -> None:
    headers: list[tuple[str, str]] = []
    params: list[tuple[str, str]] = []
    for place, valid in zip(pair, validity, strict=True):
        h, q = callers.credential(place, valid)
        headers += h
        params += q

    body = problem(client.get(path, headers=headers, params=tuple(params)), 401)

    assert body["type"] == "https://vpitracker.org/problems/unauthorized"
    assert "one credential" in body["detail"], body
    for place in pair:
        assert PLACES[place] in body["detail"], body
    # Never a secret in the answer.
    assert callers.key not in body["detail"]
    assert callers.token not in body["detail"]


@pytest.mark.parametrize("place", list(PLACES))
def test_each_credential_alone_still_reads_a_report(
    client: TestClient, callers: Callers, place: str
) -> None:
    # The control for the test above: each credential on its own is a good one.
    headers, params = callers.credential(place, True)

    r = client.get("/v1/progress/summary", headers=headers, params=tuple(params))

    assert r.status_code == 200, r.text


def test_the_refusal_is_said_in_kiswahili_too(client: TestClient, callers: Callers) -> None:
    headers, _ = callers.credential("bearer", True)

    r = client.get(
        "/v1/me",
        headers=[*headers, ("X-API-Key", callers.key), ("Accept-Language", "sw")],
    )

    body = problem(r, 401)
    assert r.headers["Content-Language"] == "sw"
    assert "Authorization: Bearer, X-API-Key" in body["detail"]
    assert "one credential" not in body["detail"]
