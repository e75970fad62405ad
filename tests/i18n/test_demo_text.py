"""The demo has reports and assessments written in Kiswahili, served exactly as written."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.conftest import test_settings
from vpitracker import demo, migrate
from vpitracker.db import make_engine, unit_of_work
from vpitracker.main import create_app

MOMBASA = "Kamati haijakutana tangu Julai"
BUSIA = "Wanachama walioko Busia wanathibitisha"


@pytest.fixture
def client(scratch_database_url: str) -> Iterator[TestClient]:
    engine: Engine = make_engine(scratch_database_url)
    migrate.upgrade(engine)
    with unit_of_work(engine) as session:
        demo.load(session)
    settings = test_settings(database_url=scratch_database_url)
    with TestClient(create_app(settings, engine=engine)) as c:
        token = c.post(
            "/v1/auth/token",
            data={"username": demo.secretariat_email(), "password": demo.DEMO_PASSWORD},
        ).json()["access_token"]
        c.headers["Authorization"] = f"Bearer {token}"
        yield c
    engine.dispose()


def texts(client: TestClient, path: str, field: str, accept: str) -> list[str]:
    r = client.get(path, params={"limit": 1000}, headers={"Accept-Language": accept})
    assert r.status_code == 200, r.text
    return [item[field] for item in r.json()["items"]]


def test_kiswahili_free_text_is_served_as_written_in_any_language(client: TestClient) -> None:
    for accept in ("en", "sw"):
        summaries = texts(client, "/v1/status-updates", "summary", accept)
        assert any(s.startswith(MOMBASA) for s in summaries)
        assert any(s.startswith("Draft regulations") for s in summaries)  # English stays too
    listing = client.get("/v1/commitments", params={"limit": 1000}).json()
    ids = [c["id"] for c in listing["items"] if c["code"] == "GOK-C-13"]
    assert len(ids) == 1
    for accept in ("en", "sw"):
        rationales = texts(client, f"/v1/commitments/{ids[0]}/assessments", "rationale", accept)
        assert any(r.startswith(BUSIA) for r in rationales)
