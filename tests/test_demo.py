"""The demo scenario gives every dashboard figure something to show, and loads once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from tests.conftest import test_settings
from vpitracker import demo, migrate
from vpitracker.cli import app as cli_app
from vpitracker.config import get_settings
from vpitracker.db import get_engine, make_engine, unit_of_work
from vpitracker.main import create_app
from vpitracker.models import Commitment

DATA_README = (Path(demo.__file__).parent / "data" / "README.md").read_text("utf-8")


@pytest.fixture
def demo_engine(scratch_database_url: str) -> Iterator[Engine]:
    engine = make_engine(scratch_database_url)
    migrate.upgrade(engine)
    with unit_of_work(engine) as session:
        demo.load(session)
    yield engine
    engine.dispose()


@pytest.fixture
def demo_client(demo_engine: Engine, scratch_database_url: str) -> Iterator[TestClient]:
    settings = test_settings(database_url=scratch_database_url)
    with TestClient(create_app(settings, engine=demo_engine)) as client:
        token = client.post(
            "/v1/auth/token",
            data={"username": demo.secretariat_email(), "password": demo.DEMO_PASSWORD},
        ).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def _nonzero(row: dict[str, Any], *columns: str) -> list[str]:
    return [c for c in columns if not row[c]]


STATUSES = ("not_started", "in_progress", "completed", "stalled", "cancelled")


class TestDemoFigures:
    def test_summary_exercises_every_figure(self, demo_client: TestClient) -> None:
        s = demo_client.get("/v1/progress/summary").json()
        assert _nonzero(s, "commitments", "overdue", "stale", "contested", "percent_completed",
                        "mean_progress_percent", "recommendations") == []  # fmt: skip
        assert _nonzero(s["by_reported_status"], *STATUSES) == []
        assert _nonzero(s["by_verdict"], *s["by_verdict"]) == []
        assert _nonzero(s["by_implementation"], *s["by_implementation"]) == []

    def test_scorecard_timeline_clusters_and_instruments_have_figures(
        self, demo_client: TestClient
    ) -> None:
        rows = demo_client.get("/v1/progress/ministries").json()["items"]
        for column in (
            "commitments_led",
            "commitments_supporting",
            *STATUSES,
            "overdue",
            "stale",
            "contested",
            "mean_progress_percent",
            "days_since_last_update",
        ):
            assert any(r[column] for r in rows), column  # fmt: skip
        timeline = demo_client.get("/v1/progress/timeline?interval=quarter").json()["items"]
        for column in ("updates_posted", "commitments_completed_cumulative", "overdue_at_end"):
            assert any(r[column] for r in timeline), column
        body = demo_client.get("/v1/progress/clusters").json()
        clusters = body["items"]
        # The shipped catalogue assigns cluster 1 only (the rest is for the secretariat).
        assert clusters[0]["commitments"] > 0
        # The data README states how many demo commitments no cluster row counts.
        stated = re.search(r"(\d+) of the demo's (\d+) commitments", DATA_README)
        assert stated is not None
        assert int(stated[1]) == body["commitments_without_cluster"]
        assert int(stated[2]) == demo_client.get("/v1/progress/summary").json()["commitments"]
        instruments = demo_client.get("/v1/progress/instruments").json()["items"]
        assert all(r["commitments"] > 0 for r in instruments)

    def test_chain_verifies_after_loading(self, demo_client: TestClient) -> None:
        verify = demo_client.get("/v1/audit/verify").json()
        assert verify["ok"] is True
        assert verify["checked"] > 100


class TestSeedCommand:
    def test_seed_twice_does_not_duplicate(
        self, scratch_database_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("VPI_ENV", "development")
        monkeypatch.setenv("VPI_DATABASE_URL", scratch_database_url)
        get_settings.cache_clear()
        get_engine.cache_clear()
        try:
            runner = CliRunner()
            first = runner.invoke(cli_app, ["seed", "demo"])
            assert first.exit_code == 0, first.output
            assert demo.secretariat_email() in first.output
            again = runner.invoke(cli_app, ["seed", "demo"])
            assert again.exit_code == 1
            quiet = runner.invoke(cli_app, ["seed", "demo", "--if-empty"])
            assert quiet.exit_code == 0
            with get_engine().connect() as conn:
                count = conn.execute(select(func.count()).select_from(Commitment)).scalar_one()
            assert count == len(demo.scenario()["commitments"])
        finally:
            get_engine().dispose()
            get_settings.cache_clear()
            get_engine.cache_clear()

    def test_production_mode_never_loads_the_demo(
        self, scratch_database_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("VPI_ENV", "production")
        monkeypatch.setenv("VPI_SECRET_KEY", "a-production-secret-key-0123456789-abcdef")
        monkeypatch.setenv("VPI_DATABASE_URL", scratch_database_url)
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(cli_app, ["seed", "demo"])
            assert result.exit_code == 2
            assert demo.DEMO_PASSWORD not in result.output
        finally:
            get_settings.cache_clear()
