"""GET /v1/vocabulary: every enumeration's labels, in the language asked for."""

from __future__ import annotations

from enum import StrEnum

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.assertions import problem
from tests.conftest import test_settings
from tests.credentials import auth
from tests.factories import make_api_key, make_user
from vpitracker.config import Settings
from vpitracker.vocab import (
    CLUSTER_NAMES,
    DerivedVerdict,
    GovernmentResponse,
    Implementation,
    Instrument,
    MinistryKind,
    Priority,
    ReportedStatus,
    Role,
)

ENUMS: dict[str, type[StrEnum]] = {
    "reported_status": ReportedStatus,
    "verdict": DerivedVerdict,
    "government_response": GovernmentResponse,
    "priority": Priority,
    "implementation": Implementation,
    "ministry_kind": MinistryKind,
    "instrument": Instrument,
    "role": Role,
}


def labels(body: dict[str, object], name: str) -> dict[object, str]:
    terms = body[name]
    assert isinstance(terms, list)
    return {t["value"]: t["label"] for t in terms}


def test_every_enumeration_has_every_value_labelled_in_both_languages(
    client: TestClient, session: Session, settings: Settings
) -> None:
    headers = auth(settings, make_user(session, Role.viewer))
    en = client.get("/v1/vocabulary?lang=en", headers=headers).json()
    sw = client.get("/v1/vocabulary?lang=sw", headers=headers).json()
    assert (en["lang"], sw["lang"]) == ("en", "sw")
    for name, enum in ENUMS.items():
        assert set(labels(en, name)) == set(labels(sw, name)) == {v.value for v in enum}, name
        for value, label in labels(sw, name).items():
            assert label, (name, value)
            assert label != labels(en, name)[value], (name, value)
    assert set(labels(sw, "cluster")) == set(CLUSTER_NAMES)
    assert labels(en, "cluster")[1] == "Criminalization and jurisdiction"
    assert labels(sw, "cluster")[1] == "Uharamishaji na mamlaka ya kisheria"
    assert labels(sw, "reported_status")["not_started"] == "Haijaanza"
    assert labels(sw, "verdict")["disputes"] == "Inapinga"
    assert labels(sw, "ministry_kind")["county"] == "Serikali ya Kaunti"


@pytest.mark.parametrize(
    ("query", "accept", "lang"),
    [
        ("", "sw-KE", "sw"),
        ("", "fr", "en"),
        ("", "en;q=0.2, sw;q=0.7", "sw"),
        ("?lang=en", "sw", "en"),
        ("?lang=sw", "en", "sw"),
    ],
)
def test_lang_then_accept_language(
    client: TestClient, session: Session, settings: Settings, query: str, accept: str, lang: str
) -> None:
    headers = {**auth(settings, make_user(session)), "Accept-Language": accept}
    r = client.get(f"/v1/vocabulary{query}", headers=headers)
    assert r.status_code == 200
    assert r.json()["lang"] == lang
    assert r.headers["Content-Language"] == lang


def test_unknown_language_is_422(client: TestClient, session: Session, settings: Settings) -> None:
    headers = auth(settings, make_user(session))
    body = problem(client.get("/v1/vocabulary?lang=fr", headers=headers), 422)
    assert body["errors"][0]["loc"] == ["query", "lang"]


def test_dashboards_read_it_with_an_api_key_header_or_query(
    client: TestClient, session: Session
) -> None:
    key = make_api_key(session, make_user(session, Role.secretariat))
    assert client.get("/v1/vocabulary", headers={"X-API-Key": key}).status_code == 200
    assert client.get(f"/v1/vocabulary?api_key={key}").status_code == 200


def test_anonymous_needs_public_read(client: TestClient) -> None:
    problem(client.get("/v1/vocabulary"), 401)


class TestPublicRead:
    @pytest.fixture
    def settings(self) -> Settings:
        return test_settings(public_read=True)

    def test_anonymous_reads_it_when_progress_is_public(self, client: TestClient) -> None:
        r = client.get("/v1/vocabulary?lang=sw")
        assert r.status_code == 200
        assert labels(r.json(), "priority")["high"] == "Juu"
