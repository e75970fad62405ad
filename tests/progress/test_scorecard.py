"""The scorecard page's figures: the API's numbers exactly, in no more statements.

``progress.service.scorecard`` reads summary, ministries, clusters, instruments and
the quarterly timeline for the page. Each figure must equal what the API's own
endpoint answers for the same moment (those are checked against an independent
reference in test_figures.py), and the page, its sign-in included, must not run more
statements than ``GET /v1/progress/summary`` and ``/v1/progress/ministries`` do (as of
a past day one more: there the summary reads its two aggregates in one statement).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
from vpitracker.progress import service, timeline_service
from vpitracker.web import session as cookies
from vpitracker.web.session import PageSession

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

    @pytest.mark.parametrize("as_of", [None, date(2025, 5, 20)], ids=str)
    def test_the_figures_in_four_statements(
        self, session: Session, settings: Settings, statements: list[str], as_of: date | None
    ) -> None:
        make_scenario(session, 4)
        clock = Clock.at(as_of, settings.stale_after_days)
        figures = _queries(statements, lambda: service.scorecard(session, clock))
        # The totals, clusters, instruments and the timeline's first day in one; then
        # the recommendations', the ministries' and the timeline moves' statements.
        assert figures == 4
        assert figures < _queries(
            statements,
            lambda: (
                service.summary(session, clock),
                service.ministries(session, clock),
                service.clusters(session, clock),
                service.instruments(session, clock),
                timeline_service.timeline(session, clock, interval="quarter"),
            ),
        )
        statements.clear()
        service.scorecard(session, clock)
        # Reads only: nothing created, filled or dropped for the page.
        assert not any(
            s.lstrip().upper().startswith(("CREATE", "INSERT", "DROP", "ANALYZE"))
            for s in statements
        )

    @pytest.mark.parametrize("as_of", [None, date(2025, 5, 20)], ids=str)
    def test_the_page_runs_no_more_statements_than_summary_and_ministries(
        self,
        client: TestClient,
        session: Session,
        settings: Settings,
        statements: list[str],
        as_of: date | None,
    ) -> None:
        scenario = make_scenario(session, 4)
        member = scenario.member
        assert member.id is not None
        params = {"as_of": as_of.isoformat()} if as_of else {}
        headers = auth(settings, member)

        def pair() -> None:
            for path in ("summary", "ministries"):
                r = client.get(f"/v1/progress/{path}", params=params, headers=headers)
                assert r.status_code == 200, r.text

        api = _queries(statements, pair)
        signed_in = PageSession.anonymous().signed_in(member.id, member.credential_version)
        client.cookies.set(cookies.COOKIE_NAME, cookies.encode(settings, signed_in))

        def scorecard() -> None:
            r = client.get("/", params=params)
            assert r.status_code == 200, r.text
            assert "<h1>Scorecard</h1>" in r.text

        page = _queries(statements, scorecard)
        # Each API call looks its token up; the page looks its cookie's user up once. As of
        # a past day the summary's two aggregates are one statement (its state read once),
        # while the page still reads its totals with the clusters and instruments.
        assert api == (5 if as_of is None else 4)
        assert page == 5
        assert page <= api + (as_of is not None)


def _queries(statements: list[str], read: Callable[[], object]) -> int:
    """The queries ``read`` runs (not the test transaction's savepoints)."""
    statements.clear()
    read()
    return sum(s.lstrip().upper().startswith(("SELECT", "WITH")) for s in statements)
