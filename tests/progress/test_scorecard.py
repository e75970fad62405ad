"""The scorecard page's figures: one derivation of the state, the API's numbers exactly.

``progress.service.scorecard`` keeps every counted commitment's derived state in a
temporary table and reads summary, ministries, clusters and instruments from it.
Each figure must equal what the API's own endpoint answers for the same moment
(those are checked against an independent reference in test_figures.py), and the
state must be derived once, not once per figure.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlmodel import Session

from tests.credentials import auth
from tests.scenarios import make_scenario
from vpitracker.config import Settings
from vpitracker.kernel.clock import Clock
from vpitracker.progress import repository, service

MOMENTS = (None, date(2024, 10, 15), date(2025, 5, 20))


def _api(client: TestClient, headers: dict[str, str], path: str, as_of: date | None) -> Any:
    params = {"as_of": as_of.isoformat()} if as_of else {}
    r = client.get(f"/v1/progress/{path}", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def statements(connection: Connection) -> Iterator[list[str]]:
    seen: list[str] = []

    def on_execute(*args: Any) -> None:
        seen.append(args[2])

    event.listen(connection, "before_cursor_execute", on_execute)
    yield seen
    event.remove(connection, "before_cursor_execute", on_execute)


class TestScorecard:
    @pytest.mark.parametrize("as_of", MOMENTS, ids=str)
    def test_every_figure_equals_the_api(
        self, client: TestClient, session: Session, settings: Settings, as_of: date | None
    ) -> None:
        scenario = make_scenario(session, 2026)
        headers = auth(settings, scenario.member)
        figures = service.scorecard(session, Clock.at(as_of, settings.stale_after_days))
        assert figures.summary.model_dump(mode="json") == _api(client, headers, "summary", as_of)
        assert figures.ministries.model_dump(mode="json") == _api(
            client, headers, "ministries", as_of
        )
        assert figures.clusters.model_dump(mode="json") == _api(client, headers, "clusters", as_of)
        assert figures.instruments.model_dump(mode="json") == _api(
            client, headers, "instruments", as_of
        )
        params = {"interval": "quarter", **({"as_of": as_of.isoformat()} if as_of else {})}
        r = client.get("/v1/progress/timeline", params=params, headers=headers)
        assert figures.timeline.model_dump(mode="json") == r.json()
        assert sum(row.commitments_led for row in figures.ministries.items) > 0

    def test_the_state_is_derived_once_and_the_table_is_gone_after(
        self, session: Session, settings: Settings, statements: list[str]
    ) -> None:
        make_scenario(session, 4)
        clock = Clock.at(None, settings.stale_after_days)
        service.scorecard(session, clock)
        filled = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO SCORECARD")]
        read = [s for s in statements if "scorecard_state" in s and s.lstrip().startswith("SELECT")]
        assert len(filled) == 1
        # summary, ministries, and clusters (those without one among them) with instruments
        assert len(read) == 3
        # The same transaction can draw the page again: the table was dropped.
        statements.clear()
        again = service.scorecard(session, clock)
        assert again.summary.commitments > 0
        assert any(s.strip() == f"DROP TABLE {repository.STATE_TABLE}" for s in statements)
