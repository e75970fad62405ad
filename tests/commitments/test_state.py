"""A commitment's derived state (docs/concepts.md), read through the API.

Updates and assessments are rows with explicit timestamps, far from today, so
nothing here depends on the clock; ``as_of`` fixes "today" where a rule needs it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.credentials import auth
from tests.factories import make_assessment, make_commitment, make_ministry, make_update, make_user
from vpitracker.config import Settings
from vpitracker.models import Commitment, Ministry, User
from vpitracker.vocab import Role


def at(text: str) -> datetime:
    """A UTC moment from ``YYYY-MM-DD[THH:MM[:SS]]``."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class World:
    """One ministry, a reporter, an assessor and an HTTP reader."""

    def __init__(self, client: TestClient, session: Session, settings: Settings) -> None:
        self.client = client
        self.session = session
        self.ministry: Ministry = make_ministry(session)
        self.officer: User = make_user(session, Role.government_officer, ministries=[self.ministry])
        self.member: User = make_user(session, Role.alliance_member)
        self.headers = auth(settings, self.member)

    def commitment(self, **fields: Any) -> Commitment:
        fields.setdefault("committed_on", date(2020, 1, 1))
        fields.setdefault("due_date", date(2099, 12, 31))
        return make_commitment(self.session, lead=self.ministry, **fields)

    def update(self, commitment: Commitment, when: str, **fields: Any) -> None:
        make_update(self.session, commitment, by=self.officer, at=at(when), **fields)

    def assess(self, commitment: Commitment, when: str, verdict: str) -> None:
        make_assessment(self.session, commitment, by=self.member, at=at(when), verdict=verdict)

    def read(self, commitment: Commitment, as_of: str | None = None) -> dict[str, Any]:
        params = {"as_of": as_of} if as_of else {}
        r = self.client.get(f"/v1/commitments/{commitment.id}", params=params, headers=self.headers)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def listed(self, **params: Any) -> set[int]:
        """Ids of this ministry's commitments the list returns with ``params``."""
        r = self.client.get(
            "/v1/commitments",
            params={"lead_ministry_id": self.ministry.id, "limit": 1000, **params},
            headers=self.headers,
        )
        assert r.status_code == 200, r.text
        return {c["id"] for c in r.json()["items"]}


@pytest.fixture
def world(client: TestClient, session: Session, settings: Settings) -> World:
    return World(client, session, settings)


class TestReportedStatus:
    def test_without_updates_it_is_not_started_at_zero(self, world: World) -> None:
        commitment = world.commitment()

        state = world.read(commitment)

        assert (state["reported_status"], state["progress_percent"]) == ("not_started", 0)
        assert state["last_reported_at"] is None

    def test_the_newest_update_counts_whatever_the_order_they_were_stored(
        self, world: World
    ) -> None:
        commitment = world.commitment()
        world.update(commitment, "2021-06-01T09:30", status="stalled", progress=30)
        world.update(commitment, "2021-01-01", status="in_progress", progress=10)
        world.update(commitment, "2021-03-01", status="in_progress", progress=20)

        state = world.read(commitment)

        assert (state["reported_status"], state["progress_percent"]) == ("stalled", 30)
        assert at(state["last_reported_at"].removesuffix("Z")) == at("2021-06-01T09:30")
        assert world.listed(reported_status="stalled") == {commitment.id}
        assert world.listed(reported_status="in_progress") == set()

    def test_reported_status_filter_includes_commitments_without_updates(
        self, world: World
    ) -> None:
        silent, active = world.commitment(), world.commitment()
        world.update(active, "2021-01-01")

        assert world.listed(reported_status="not_started") == {silent.id}
        assert world.listed(reported_status="in_progress") == {active.id}


class TestVerdict:
    def test_without_assessments_it_is_unassessed(self, world: World) -> None:
        commitment = world.commitment()

        assert world.read(commitment)["verdict"] == "unassessed"
        assert world.listed(verdict="unassessed") == {commitment.id}

    def test_the_newest_assessment_gives_the_verdict(self, world: World) -> None:
        commitment, other = world.commitment(), world.commitment()
        world.assess(commitment, "2021-05-01", "insufficient_evidence")
        world.assess(commitment, "2021-02-01", "disputes")
        world.assess(other, "2021-02-01", "agrees")

        assert world.read(commitment)["verdict"] == "insufficient_evidence"
        assert world.listed(verdict="insufficient_evidence") == {commitment.id}
        assert world.listed(verdict="agrees") == {other.id}
        assert world.listed(verdict="disputes") == set()


class TestContested:
    def test_a_newest_assessment_that_disputes_contests_the_commitment(self, world: World) -> None:
        commitment, agreed = world.commitment(), world.commitment()
        world.update(commitment, "2021-01-01")
        world.assess(commitment, "2021-02-01", "disputes")
        world.update(agreed, "2021-01-01")
        world.assess(agreed, "2021-02-01", "agrees")

        assert world.read(commitment)["contested"] is True
        assert world.read(agreed)["contested"] is False
        assert world.listed(contested="true") == {commitment.id}
        assert world.listed(contested="false") == {agreed.id}

    def test_a_dispute_without_any_update_contests(self, world: World) -> None:
        commitment = world.commitment()
        world.assess(commitment, "2021-02-01", "disputes")

        assert world.read(commitment)["contested"] is True

    def test_a_newer_update_clears_it(self, world: World) -> None:
        commitment = world.commitment()
        world.update(commitment, "2021-01-01")
        world.assess(commitment, "2021-02-01", "disputes")

        world.update(commitment, "2021-02-02", status="in_progress", progress=60)

        state = world.read(commitment)
        assert state["contested"] is False
        assert state["verdict"] == "disputes"
        assert world.listed(contested="true") == set()

    def test_a_newer_agreeing_assessment_clears_it(self, world: World) -> None:
        commitment = world.commitment()
        world.assess(commitment, "2021-02-01", "disputes")
        world.assess(commitment, "2021-03-01", "partially_agrees")

        assert world.read(commitment)["contested"] is False

    def test_as_of_between_the_dispute_and_the_reply_shows_it_contested(self, world: World) -> None:
        commitment = world.commitment()
        world.assess(commitment, "2021-02-01", "disputes")
        world.update(commitment, "2021-03-01")

        assert world.read(commitment, as_of="2021-02-15")["contested"] is True
        assert world.read(commitment, as_of="2021-03-01")["contested"] is False


class TestOverdue:
    def test_it_flips_once_as_of_passes_the_due_date(self, world: World) -> None:
        commitment = world.commitment(due_date=date(2021, 6, 30))
        world.update(commitment, "2021-01-01")

        assert world.read(commitment, as_of="2021-06-30")["overdue"] is False
        assert world.read(commitment, as_of="2021-07-01")["overdue"] is True
        assert world.listed(overdue="true", as_of="2021-06-30") == set()
        assert world.listed(overdue="true", as_of="2021-07-01") == {commitment.id}

    def test_a_due_date_long_past_is_overdue_today(self, world: World) -> None:
        late = world.commitment(due_date=date(2020, 6, 30))
        future = world.commitment(due_date=date(2099, 6, 30))

        assert world.read(late)["overdue"] is True
        assert world.read(future)["overdue"] is False
        assert world.listed(overdue="true") == {late.id}
        assert world.listed(overdue="false") == {future.id}

    def test_a_stalled_commitment_stays_overdue(self, world: World) -> None:
        commitment = world.commitment(due_date=date(2020, 6, 30))
        world.update(commitment, "2021-01-01", status="stalled", progress=20)

        assert world.read(commitment)["overdue"] is True


class TestClosedCommitments:
    @pytest.mark.parametrize(("status", "progress"), [("completed", 100), ("cancelled", 10)])
    def test_are_never_overdue_or_stale(self, world: World, status: str, progress: int) -> None:
        commitment = world.commitment(due_date=date(2020, 6, 30))
        world.update(commitment, "2020-03-01", status=status, progress=progress)

        state = world.read(commitment)

        assert state["reported_status"] == status
        assert (state["overdue"], state["stale"]) == (False, False)
        assert world.listed(overdue="true") == set()
        assert world.listed(stale="true") == set()

    def test_reopening_makes_them_overdue_again(self, world: World) -> None:
        commitment = world.commitment(due_date=date(2020, 6, 30))
        world.update(commitment, "2020-03-01", status="completed", progress=100)
        world.update(commitment, "2020-04-01", status="in_progress", progress=80)

        state = world.read(commitment, as_of="2020-07-01")

        assert (state["reported_status"], state["overdue"]) == ("in_progress", True)


class TestStale:
    def test_without_updates_it_counts_from_committed_on(self, world: World) -> None:
        commitment = world.commitment(committed_on=date(2020, 1, 1))

        # 2020-03-30 is 89 days after 2020-01-01; 2020-04-01 is 91 days after.
        assert world.read(commitment, as_of="2020-03-30")["stale"] is False
        assert world.read(commitment, as_of="2020-04-01")["stale"] is True
        assert world.listed(stale="true", as_of="2020-03-30") == set()
        assert world.listed(stale="true", as_of="2020-04-01") == {commitment.id}

    def test_it_counts_from_the_newest_update(self, world: World) -> None:
        commitment = world.commitment(committed_on=date(2020, 1, 1))
        world.update(commitment, "2020-03-01")

        # 90 days after 2020-03-01 is 2020-05-30.
        assert world.read(commitment, as_of="2020-05-28")["stale"] is False
        assert world.read(commitment, as_of="2020-05-31")["stale"] is True

    def test_a_new_update_makes_it_fresh_again(self, world: World) -> None:
        commitment = world.commitment(committed_on=date(2020, 1, 1))
        world.update(commitment, "2020-01-02")
        world.update(commitment, "2020-06-01")

        assert world.read(commitment, as_of="2020-05-15")["stale"] is True
        assert world.read(commitment, as_of="2020-06-01")["stale"] is False

    def test_an_old_commitment_never_reported_on_is_stale_today(self, world: World) -> None:
        commitment = world.commitment(committed_on=date(2020, 1, 1))

        assert world.read(commitment)["stale"] is True
        assert commitment.id in world.listed(stale="true")


class TestStaleAfterDaysSetting:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"stale_after_days": 30})

    def test_the_configured_number_of_days_applies(self, world: World) -> None:
        commitment = world.commitment(committed_on=date(2020, 1, 1))
        world.update(commitment, "2020-03-01")

        # 30 days after 2020-03-01 is 2020-03-31 (the default 90 would not be stale yet).
        assert world.read(commitment, as_of="2020-03-29")["stale"] is False
        assert world.read(commitment, as_of="2020-04-02")["stale"] is True
        assert world.listed(stale="true", as_of="2020-04-02") == {commitment.id}


class TestAsOf:
    def test_later_updates_and_assessments_are_ignored(self, world: World) -> None:
        commitment = world.commitment()
        world.update(commitment, "2021-03-01T23:59:59", status="in_progress", progress=25)
        world.assess(commitment, "2021-03-01T23:59:59", "agrees")
        world.update(commitment, "2021-03-02T00:00:00", status="completed", progress=100)
        world.assess(commitment, "2021-03-02T00:00:00", "disputes")

        then = world.read(commitment, as_of="2021-03-01")
        now = world.read(commitment)

        assert (then["reported_status"], then["progress_percent"], then["verdict"]) == (
            "in_progress",
            25,
            "agrees",
        )
        assert at(then["last_reported_at"].removesuffix("Z")) == at("2021-03-01T23:59:59")
        assert (now["reported_status"], now["progress_percent"], now["verdict"]) == (
            "completed",
            100,
            "disputes",
        )
        assert world.listed(reported_status="in_progress", as_of="2021-03-01") == {commitment.id}
        assert world.listed(reported_status="completed", as_of="2021-03-01") == set()

    def test_lists_leave_out_commitments_committed_later(self, world: World) -> None:
        early = world.commitment(committed_on=date(2020, 1, 1))
        late = world.commitment(committed_on=date(2021, 6, 1))

        assert world.listed(as_of="2021-05-31") == {early.id}
        assert world.listed(as_of="2021-06-01") == {early.id, late.id}
        assert world.listed() == {early.id, late.id}

    def test_reading_one_committed_later_shows_it_not_started_and_unassessed(
        self, world: World
    ) -> None:
        commitment = world.commitment(committed_on=date(2021, 6, 1))
        world.update(commitment, "2021-07-01", status="in_progress", progress=50)
        world.assess(commitment, "2021-07-02", "disputes")

        state = world.read(commitment, as_of="2021-05-01")

        assert state["reported_status"] == "not_started"
        assert state["progress_percent"] == 0
        assert state["last_reported_at"] is None
        assert state["verdict"] == "unassessed"
        assert state["contested"] is False

    def test_an_invalid_as_of_is_422(self, world: World) -> None:
        commitment = world.commitment()

        r = world.client.get(
            f"/v1/commitments/{commitment.id}", params={"as_of": "yesterday"}, headers=world.headers
        )

        assert r.status_code == 422
        assert r.json()["errors"][0]["loc"] == ["query", "as_of"]
