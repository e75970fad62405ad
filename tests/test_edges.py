"""Headers on every answer and the small limits at the record's edges."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from tests.assertions import problem
from tests.conftest import test_settings
from tests.credentials import auth
from tests.factories import make_commitment, make_ministry, make_user
from vpitracker.config import Settings
from vpitracker.main import create_app
from vpitracker.vocab import Role


class TestHeaders:
    def test_every_answer_is_nosniff_and_signed_in_answers_are_not_stored(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        anonymous = client.get("/healthz")
        assert anonymous.headers["X-Content-Type-Options"] == "nosniff"
        assert "no-store" not in anonymous.headers.get("Cache-Control", "")
        signed_in = client.get("/v1/me", headers=auth(settings, make_user(session)))
        assert signed_in.status_code == 200
        assert signed_in.headers["Cache-Control"] == "no-store"
        assert signed_in.headers["X-Content-Type-Options"] == "nosniff"
        assert "Strict-Transport-Security" not in signed_in.headers

    def test_hsts_only_over_https(self, client: TestClient) -> None:
        https = TestClient(client.app, base_url="https://testserver")
        assert https.get("/healthz").headers["Strict-Transport-Security"].startswith("max-age=")

    def test_ten_megabytes_of_headers_are_refused(self, client: TestClient) -> None:
        r = client.get("/healthz", headers={"X-Padding": "a" * (10 * 1024 * 1024)})
        assert r.status_code == 431
        assert r.headers["content-type"] == "application/problem+json"


@pytest.fixture
def failing_app(engine: Engine) -> FastAPI:
    app = create_app(test_settings(), engine=engine)

    @app.get("/boom", include_in_schema=False)
    def boom() -> None:
        raise RuntimeError("a bug")

    return app


def test_a_500_carries_the_request_id_and_is_a_problem(failing_app: FastAPI) -> None:
    with TestClient(failing_app, raise_server_exceptions=False) as client:
        r = client.get("/boom", headers={"X-Request-ID": "trace-500"})
    assert r.status_code == 500
    assert r.headers["X-Request-ID"] == "trace-500"
    assert r.headers["content-type"] == "application/problem+json"
    assert "trace-500" in r.json()["detail"]
    assert "a bug" not in r.text


def test_evidence_urls_are_capped_at_2048_characters(
    client: TestClient, session: Session, settings: Settings
) -> None:
    commitment = make_commitment(session, lead=make_ministry(session))
    officer = auth(settings, make_user(session, Role.secretariat))
    base = "https://example.org/"
    for length, expected in ((2048, 201), (2049, 422)):
        url = base + "a" * (length - len(base))
        r = client.post(
            f"/v1/commitments/{commitment.id}/status-updates",
            json={"status": "in_progress", "progress_percent": 10, "summary": "s",
                  "evidence": [{"url": url}]},
            headers=officer,
        )  # fmt: skip
        assert r.status_code == expected, r.text
    problem(r, 422)


def test_report_and_progress_401_offers_basic_and_basic_then_works(
    client: TestClient, session: Session
) -> None:
    import base64

    from tests.factories import make_api_key

    key = make_api_key(session, make_user(session))
    for path in ("/v1/progress/summary", "/v1/reports/commitments"):
        challenge = client.get(path)
        assert challenge.status_code == 401
        assert 'Basic realm="vpitracker"' in challenge.headers["WWW-Authenticate"]
        assert 'Bearer realm="vpitracker"' in challenge.headers["WWW-Authenticate"]
        basic = base64.b64encode(f"dashboard:{key}".encode()).decode()
        assert client.get(path, headers={"Authorization": f"Basic {basic}"}).status_code == 200
    # Operations that take no Basic credentials (writes) do not offer them.
    assert "Basic" not in client.patch("/v1/me", json={}).headers["WWW-Authenticate"]
