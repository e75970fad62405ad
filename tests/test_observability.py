"""Request ids, metrics per route template, and no secrets in the logs."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.credentials import auth
from tests.factories import make_ministry, make_user
from vpitracker.config import Settings
from vpitracker.observability import redact_query
from vpitracker.vocab import Role


class TestRequestId:
    def test_given_id_is_echoed_and_missing_one_is_minted(self, client: TestClient) -> None:
        assert (
            client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"]
            == "abc-123"
        )
        minted = client.get("/healthz").headers["X-Request-ID"]
        assert len(minted) == 32

    def test_unsafe_id_is_replaced(self, client: TestClient) -> None:
        echoed = client.get("/healthz", headers={"X-Request-ID": "bad id\\n"}).headers
        assert echoed["X-Request-ID"] != "bad id\\n"


class TestMetrics:
    def test_metrics_count_route_templates_not_raw_paths(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        user = make_user(session, Role.secretariat)
        ministry = make_ministry(session)
        client.get(f"/v1/ministries/{ministry.id}", headers=auth(settings, user))
        text = client.get("/metrics").text
        assert 'route="/v1/ministries/{ministry_id}"' in text
        assert f'route="/v1/ministries/{ministry.id}"' not in text
        assert "vpitracker_http_request_duration_seconds_bucket" in text


class TestLogs:
    def test_api_key_in_the_query_never_reaches_the_log(
        self, client: TestClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        secret = "vpi_this-is-a-secret-key-value"
        with caplog.at_level(logging.INFO, logger="vpitracker.access"):
            client.get(f"/v1/progress/summary?api_key={secret}&as_of=2025-01-01")
        lines = [r.getMessage() + str(getattr(r, "fields", "")) for r in caplog.records]
        assert any("api_key=REDACTED" in line for line in lines)
        assert all(secret not in line for line in lines)

    def test_redact_keeps_other_parameters(self) -> None:
        assert redact_query("api_key=x&limit=5") == "api_key=REDACTED&limit=5"
