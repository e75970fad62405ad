"""Dashboards and list pages cost a fixed number of SQL statements, whatever the data size.

Every statement the app sends on the test connection is counted per request
(the SAVEPOINT bookkeeping of the per-test transaction aside). Each endpoint is
asked the same question over a small scenario and over one ten times larger:
the count must stay within the budget and must not grow with the data — an N+1
query would show up as a count that follows the number of rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlmodel import Session

from tests.credentials import auth
from tests.scenarios import Scenario, make_scenario
from vpitracker.config import Settings

BUDGET = 5
# What the per-test transaction adds around each request; not the app's own work.
BOOKKEEPING = ("SAVEPOINT", "RELEASE", "ROLLBACK TO")


class StatementCounter:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.statements: list[str] = []
        self.active = False

    def _on_execute(self, *args: Any) -> None:
        statement: str = args[2]
        if self.active and not statement.lstrip().upper().startswith(BOOKKEEPING):
            self.statements.append(statement)

    def __enter__(self) -> StatementCounter:
        event.listen(self.connection, "before_cursor_execute", self._on_execute)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.connection, "before_cursor_execute", self._on_execute)

    def count(self, client: TestClient, url: str, headers: dict[str, str], **params: Any) -> int:
        """Statements the app sends to answer one GET (which must succeed)."""
        self.statements = []
        self.active = True
        try:
            r = client.get(url, params=params, headers=headers)
        finally:
            self.active = False
        assert r.status_code == 200, r.text
        return len(self.statements)


@pytest.fixture
def counter(connection: Connection) -> Iterator[StatementCounter]:
    with StatementCounter(connection) as c:
        yield c


def endpoints(scenario: Scenario) -> list[tuple[str, dict[str, Any]]]:
    """(url, params) of every dashboard figure and list page, with and without filters."""
    commitment = max(
        scenario.commitments, key=lambda c: sum(u.commitment_id == c.id for u in scenario.updates)
    )
    ministry = scenario.ministries[0].id
    return [
        ("/v1/progress/summary", {}),
        ("/v1/progress/summary", {"as_of": "2025-01-31", "ministry_id": ministry}),
        ("/v1/progress/summary", {"cluster": 2, "instrument": "untoc"}),
        ("/v1/progress/ministries", {}),
        ("/v1/progress/ministries", {"as_of": "2024-12-31", "cluster": 3}),
        ("/v1/progress/clusters", {}),
        ("/v1/progress/clusters", {"as_of": "2024-12-31", "ministry_id": ministry}),
        ("/v1/progress/instruments", {}),
        ("/v1/progress/instruments", {"as_of": "2025-06-30", "cluster": 1}),
        ("/v1/progress/timeline", {"interval": "month"}),
        ("/v1/progress/timeline", {"interval": "quarter", "as_of": "2025-06-30"}),
        ("/v1/commitments", {"limit": 1000}),
        ("/v1/commitments", {"limit": 1000, "ministry_id": ministry, "as_of": "2025-06-30"}),
        ("/v1/commitments", {"limit": 1000, "cluster": 2, "stale": "true"}),
        ("/v1/recommendations", {"limit": 1000}),
        ("/v1/recommendations", {"limit": 1000, "ministry_id": ministry, "as_of": "2025-06-30"}),
        ("/v1/ministries", {"limit": 1000}),
        ("/v1/status-updates", {"limit": 1000}),
        ("/v1/status-updates", {"limit": 1000, "ministry_id": ministry}),
        (f"/v1/commitments/{commitment.id}/status-updates", {"limit": 1000}),
    ]


def counts(
    client: TestClient, counter: StatementCounter, scenario: Scenario, settings: Settings
) -> dict[str, int]:
    """Statements per endpoint, keyed by its position and path (ids differ between scenarios)."""
    headers = auth(settings, scenario.member)
    return {
        f"{n}: {re.sub(r'/[0-9]+/', '/{id}/', url)} {sorted(params)}": counter.count(
            client, url, headers, **params
        )
        for n, (url, params) in enumerate(endpoints(scenario))
    }


class TestStatementBudget:
    def test_each_endpoint_uses_at_most_five_statements_at_any_size(
        self,
        client: TestClient,
        session: Session,
        settings: Settings,
        counter: StatementCounter,
    ) -> None:
        small = make_scenario(session, 7, ministries=4, recommendations=8, commitments=25)
        small_counts = counts(client, counter, small, settings)

        large = make_scenario(session, 8, ministries=40, recommendations=80, commitments=250)
        large_counts = counts(client, counter, large, settings)

        # The listener sees the app's statements: at least the caller's lookup and one query.
        assert min(small_counts.values()) >= 2
        over_budget = {k: n for k, n in {**small_counts, **large_counts}.items() if n > BUDGET}
        assert over_budget == {}
        # Same question, ten times the rows: the same number of statements.
        assert large_counts.keys() == small_counts.keys()
        grew = {k: (small_counts[k], n) for k, n in large_counts.items() if n != small_counts[k]}
        assert grew == {}

    def test_the_pages_really_hold_ten_times_the_rows(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        """The statement budget is only meaningful if the big pages are big."""
        make_scenario(session, 7, ministries=4, recommendations=8, commitments=25)
        make_scenario(session, 8, ministries=40, recommendations=80, commitments=250)
        headers = auth(settings, make_scenario(session, 9, commitments=0).member)

        def items(url: str) -> int:
            r = client.get(url, params={"limit": 1000}, headers=headers)
            assert r.status_code == 200, r.text
            return len(r.json()["items"])

        assert items("/v1/commitments") > 200
        assert items("/v1/ministries") >= 44
        assert items("/v1/recommendations") > 80
        assert items("/v1/status-updates") > 250
