"""A recommendation's implementation state from its commitments (docs/concepts.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.credentials import auth
from tests.factories import (
    make_commitment,
    make_ministry,
    make_recommendation,
    make_update,
    make_user,
)
from vpitracker.config import Settings
from vpitracker.models import Commitment, Recommendation, User, utcnow
from vpitracker.vocab import Role

# The status each commitment last reported (None: never reported on).
CASES = [
    ("no_commitment", []),
    ("not_started", [None]),
    ("not_started", [None, "not_started"]),
    ("in_progress", ["in_progress"]),
    ("in_progress", [None, "completed"]),
    ("in_progress", ["completed", "stalled"]),
    ("completed", ["completed"]),
    ("completed", ["completed", "completed"]),
]


def commitment_reporting(
    session: Session, rec: Recommendation, reporter: User, status: str | None, **fields: Any
) -> Commitment:
    fields.setdefault("committed_on", date(2020, 1, 1))
    commitment = make_commitment(
        session, lead=make_ministry(session), recommendations=[rec], **fields
    )
    if status is not None:
        progress = 100 if status == "completed" else 0 if status == "not_started" else 50
        make_update(
            session,
            commitment,
            by=reporter,
            at=datetime(2021, 1, 1, tzinfo=UTC),
            status=status,
            progress=progress,
        )
    return commitment


def implementation(
    client: TestClient, settings: Settings, user: User, rec: Recommendation, **params: Any
) -> str:
    r = client.get(f"/v1/recommendations/{rec.id}", params=params, headers=auth(settings, user))
    assert r.status_code == 200, r.text
    value: str = r.json()["implementation"]
    return value


class TestImplementation:
    @pytest.mark.parametrize(("expected", "statuses"), CASES)
    def test_follows_its_commitments_reported_statuses(
        self,
        client: TestClient,
        session: Session,
        settings: Settings,
        expected: str,
        statuses: list[str | None],
    ) -> None:
        sec = make_user(session, Role.secretariat)
        rec = make_recommendation(session)
        for status in statuses:
            commitment_reporting(session, rec, sec, status)

        assert implementation(client, settings, sec, rec) == expected

    def test_archived_commitments_do_not_count(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        sec = make_user(session, Role.secretariat)
        done, only_archived = make_recommendation(session), make_recommendation(session)
        commitment_reporting(session, done, sec, "completed")
        commitment_reporting(session, done, sec, "in_progress", archived_at=utcnow())
        commitment_reporting(session, only_archived, sec, "completed", archived_at=utcnow())

        assert implementation(client, settings, sec, done) == "completed"
        assert implementation(client, settings, sec, only_archived) == "no_commitment"

    def test_as_of_uses_the_state_at_the_end_of_that_day(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        sec = make_user(session, Role.secretariat)
        rec = make_recommendation(session, source_date=date(2019, 6, 1))
        commitment_reporting(session, rec, sec, "completed")  # reported 2021-01-01
        commitment_reporting(session, rec, sec, None, committed_on=date(2021, 6, 1))

        assert implementation(client, settings, sec, rec, as_of="2020-12-31") == "not_started"
        assert implementation(client, settings, sec, rec, as_of="2021-01-01") == "completed"
        assert implementation(client, settings, sec, rec) == "in_progress"
        assert implementation(client, settings, sec, rec, as_of="2019-12-31") == "no_commitment"


class TestImplementationFilter:
    def test_lists_only_recommendations_in_that_state(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        sec = make_user(session, Role.secretariat)
        recs: dict[str, Recommendation] = {}
        for state, statuses in (
            ("no_commitment", []),
            ("not_started", [None]),
            ("in_progress", ["in_progress", "completed"]),
            ("completed", ["completed"]),
        ):
            recs[state] = make_recommendation(session)
            for status in statuses:
                commitment_reporting(session, recs[state], sec, status)
        ours = {rec.id for rec in recs.values()}

        for state, rec in recs.items():
            r = client.get(
                "/v1/recommendations",
                params={"implementation": state, "limit": 1000},
                headers=auth(settings, sec),
            )
            assert r.status_code == 200, r.text
            found = {item["id"] for item in r.json()["items"]} & ours
            assert found == {rec.id}, state
            assert all(item["implementation"] == state for item in r.json()["items"])

    def test_an_unknown_state_is_422(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        sec = make_user(session, Role.secretariat)

        r = client.get(
            "/v1/recommendations", params={"implementation": "done"}, headers=auth(settings, sec)
        )

        assert r.status_code == 422
        assert r.json()["errors"][0]["loc"] == ["query", "implementation"]
