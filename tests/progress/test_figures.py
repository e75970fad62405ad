"""Progress figures (docs/concepts.md) against an independent recomputation.

A seeded random oversight history is written row by row; the module's own small
reference implementation of §4 recomputes every figure from the rows the test
created, and each progress endpoint must answer exactly that — now, as of past
dates, and under the ``ministry_id`` / ``cluster`` / ``instrument`` filters. A few
hand-made cases pin the rules with literal numbers, so the reference itself is
checked too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, text
from sqlmodel import Session, col, select

from tests.commitments.test_latest_cache import _migration
from tests.credentials import auth
from tests.factories import (
    assessment_body,
    make_assessment,
    make_commitment,
    make_ministry,
    make_provision,
    make_recommendation,
    make_update,
    make_user,
    status_update_body,
)
from tests.scenarios import Scenario, make_scenario
from tests.transfer.helpers import csv_file
from vpitracker.commitments import timeline_days
from vpitracker.config import Settings
from vpitracker.kernel import figures
from vpitracker.models import (
    Assessment,
    Commitment,
    CommitmentFigures,
    CommitmentRecommendation,
    CommitmentSupport,
    CommitmentTimelineDay,
    MinistryTimelineDay,
    Provision,
    Recommendation,
    RecommendationProvision,
    StatusUpdate,
    TimelineDay,
)
from vpitracker.progress import bucket_repository, repository, service
from vpitracker.transfer.schemas import Kind
from vpitracker.vocab import Role

STALE_AFTER_DAYS = 90
STATUSES = ("not_started", "in_progress", "completed", "stalled", "cancelled")
VERDICTS = ("unassessed", "agrees", "partially_agrees", "disputes", "insufficient_evidence")
IMPLEMENTATIONS = ("no_commitment", "not_started", "in_progress", "completed")
INSTRUMENTS = ("untoc", "trafficking_protocol", "smuggling_protocol", "firearms_protocol")
CLUSTER_NAMES = {
    1: "Criminalization and jurisdiction",
    2: "Prevention, technical assistance, protection measures and other measures",
    3: "Law enforcement and the judicial system",
    4: "International cooperation, mutual legal assistance and confiscation",
}
CLOSED = ("completed", "cancelled")
SEEDS = (4, 2026, 31337)
# Past review meetings the figures are asked "as of".
PAST_DATES = (date(2024, 3, 31), date(2024, 10, 15), date(2025, 5, 20))


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def one_decimal(value: Fraction) -> float:
    """Rounded to one decimal the way people (and spreadsheets) round: half away from zero."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def mean(values: list[int]) -> float | None:
    """None over no value: a row that counts no commitment has no mean."""
    return one_decimal(Fraction(sum(values), len(values))) if values else None


# --- the reference: docs/concepts.md in plain Python over the rows the test wrote ---


@dataclass(frozen=True)
class Moment:
    """The moment figures are for: now, or the end of an ``as_of`` day (UTC).

    Updates and assessments strictly before ``now`` count; ``today`` decides overdue.
    """

    as_of: date | None
    today: date
    now: datetime

    @classmethod
    def of(cls, as_of: date | None = None) -> Moment:
        if as_of is None:
            now = datetime.now(UTC)
            return cls(None, now.date(), now)
        return cls(as_of, as_of, midnight(as_of + timedelta(days=1)))


@dataclass(frozen=True)
class State:
    reported_status: str
    progress_percent: int
    verdict: str
    contested: bool
    overdue: bool
    stale: bool


class Reference:
    """Every progress figure recomputed from a :class:`Scenario`'s rows."""

    def __init__(self, scenario: Scenario) -> None:
        self.s = scenario
        self.provision = {key: (p.instrument, p.cluster) for key, p in scenario.provisions.items()}
        self.updates_of: dict[int, list[StatusUpdate]] = defaultdict(list)
        for u in scenario.updates:
            self.updates_of[u.commitment_id].append(u)
        self.assessments_of: dict[int, list[Assessment]] = defaultdict(list)
        for a in scenario.assessments:
            self.assessments_of[a.commitment_id].append(a)
        self.states: dict[tuple[int, Moment], State] = {}

    # one commitment

    def state(self, c: Commitment, at: Moment) -> State:
        assert c.id is not None
        if (c.id, at) not in self.states:
            self.states[c.id, at] = self._state(c, at)
        return self.states[c.id, at]

    def _state(self, c: Commitment, at: Moment) -> State:
        assert c.id is not None
        updates = [u for u in self.updates_of[c.id] if u.reported_at < at.now]
        assessments = [a for a in self.assessments_of[c.id] if a.assessed_at < at.now]
        update = max(updates, key=lambda u: (u.reported_at, u.id), default=None)
        assessment = max(assessments, key=lambda a: (a.assessed_at, a.id), default=None)
        status = update.status if update else "not_started"
        open_ = status not in CLOSED
        last_activity = update.reported_at if update else midnight(c.committed_on)
        return State(
            reported_status=status,
            progress_percent=update.progress_percent if update else 0,
            verdict=assessment.verdict if assessment else "unassessed",
            contested=assessment is not None
            and assessment.verdict == "disputes"
            and not any(u.reported_at > assessment.assessed_at for u in updates),
            overdue=open_ and c.due_date < at.today,
            stale=open_ and last_activity < at.now - timedelta(days=STALE_AFTER_DAYS),
        )

    def clusters_of(self, c: Commitment) -> set[int]:
        assert c.id is not None
        return {
            cluster
            for rid in self.s.rec_links[c.id]
            for key in self.s.rec_provisions[rid]
            if (cluster := self.provision[key][1]) is not None
        }

    def instruments_of(self, c: Commitment) -> set[str]:
        assert c.id is not None
        return {
            self.provision[key][0]
            for rid in self.s.rec_links[c.id]
            for key in self.s.rec_provisions[rid]
        }

    def involves(self, c: Commitment, ministry_id: int) -> bool:
        assert c.id is not None
        return c.lead_ministry_id == ministry_id or ministry_id in self.s.supporting[c.id]

    # sets of commitments and recommendations

    def counted(
        self,
        at: Moment,
        *,
        ministry_id: int | None = None,
        cluster: int | None = None,
        instrument: str | None = None,
    ) -> list[Commitment]:
        return [
            c
            for c in self.s.commitments
            if c.archived_at is None
            and (at.as_of is None or c.committed_on <= at.as_of)
            and (ministry_id is None or self.involves(c, ministry_id))
            and (cluster is None or cluster in self.clusters_of(c))
            and (instrument is None or instrument in self.instruments_of(c))
        ]

    def implementation(self, rec_id: int, at: Moment) -> str:
        statuses = [
            self.state(c, at).reported_status
            for c in self.counted(at)
            if rec_id in self.s.rec_links[c.id or 0]
        ]
        if not statuses:
            return "no_commitment"
        if all(s == "completed" for s in statuses):
            return "completed"
        if all(s == "not_started" for s in statuses):
            return "not_started"
        return "in_progress"

    def recommendations(
        self,
        at: Moment,
        *,
        ministry_id: int | None = None,
        cluster: int | None = None,
        instrument: str | None = None,
    ) -> list[int]:
        out = []
        for rec in self.s.recommendations:
            assert rec.id is not None
            provisions = [self.provision[k] for k in self.s.rec_provisions[rec.id]]
            if rec.archived_at is not None:
                continue
            if at.as_of is not None and rec.source_date is not None and rec.source_date > at.as_of:
                continue
            if cluster is not None and cluster not in {p[1] for p in provisions}:
                continue
            if instrument is not None and instrument not in {p[0] for p in provisions}:
                continue
            if ministry_id is not None and not any(
                rec.id in self.s.rec_links[c.id or 0]
                for c in self.counted(at, ministry_id=ministry_id)
            ):
                continue
            out.append(rec.id)
        return out

    # the figures

    def figures(self, commitments: Iterable[Commitment], at: Moment) -> dict[str, Any]:
        states = [self.state(c, at) for c in commitments]
        return {
            **{s: sum(st.reported_status == s for st in states) for s in STATUSES},
            "overdue": sum(st.overdue for st in states),
            "stale": sum(st.stale for st in states),
            "contested": sum(st.contested for st in states),
            "mean_progress_percent": mean([st.progress_percent for st in states]),
        }

    def summary(self, at: Moment, **filters: Any) -> dict[str, Any]:
        counted = self.counted(at, **filters)
        figures = self.figures(counted, at)
        states = [self.state(c, at) for c in counted]
        recs = self.recommendations(at, **filters)
        implementations = [self.implementation(r, at) for r in recs]
        return {
            "as_of": at.today.isoformat(),
            "commitments": len(counted),
            "by_reported_status": {s: figures[s] for s in STATUSES},
            "by_verdict": {v: sum(st.verdict == v for st in states) for v in VERDICTS},
            "overdue": figures["overdue"],
            "stale": figures["stale"],
            "contested": figures["contested"],
            "percent_completed": one_decimal(Fraction(figures["completed"] * 100, len(counted)))
            if counted
            else 0.0,
            "mean_progress_percent": figures["mean_progress_percent"] if counted else 0.0,
            "recommendations": len(recs),
            "by_implementation": {i: implementations.count(i) for i in IMPLEMENTATIONS},
        }

    def ministries(self, at: Moment, **filters: Any) -> dict[int, dict[str, Any]]:
        counted = self.counted(at, **filters)
        rows = {}
        for m in self.s.ministries:
            assert m.id is not None
            led = [c for c in counted if c.lead_ministry_id == m.id]
            posted = [
                u.reported_at
                for u in self.s.updates
                if u.ministry_id == m.id and u.reported_at < at.now
            ]
            rows[m.id] = {
                "ministry_id": m.id,
                "ministry_code": m.code,
                "ministry_name": m.name,
                "commitments_led": len(led),
                "commitments_supporting": sum(
                    m.id in self.s.supporting[c.id or 0] for c in counted
                ),
                **self.figures(led, at),
                "days_since_last_update": (at.today - max(posted).date()).days if posted else None,
            }
        return rows

    def clusters(self, at: Moment, **filters: Any) -> list[dict[str, Any]]:
        counted = self.counted(at, **filters)
        rows = []
        for number, name in CLUSTER_NAMES.items():
            members = [c for c in counted if number in self.clusters_of(c)]
            rows.append(
                {
                    "cluster": number,
                    "cluster_name": name,
                    "commitments": len(members),
                    **self.figures(members, at),
                }
            )
        return rows

    def without_cluster(self, at: Moment, **filters: Any) -> int:
        return sum(not self.clusters_of(c) for c in self.counted(at, **filters))

    def instruments(self, at: Moment, **filters: Any) -> list[dict[str, Any]]:
        counted = self.counted(at, **filters)
        rows = []
        for instrument in INSTRUMENTS:
            members = [c for c in counted if instrument in self.instruments_of(c)]
            rows.append(
                {"instrument": instrument, "commitments": len(members), **self.figures(members, at)}
            )
        return rows

    def timeline(self, at: Moment, months: int = 1, **filters: Any) -> list[dict[str, Any]]:
        """Calendar months (or quarters) from the first commitment's to ``at``'s."""
        counted = self.counted(at, **filters)
        if not counted:
            return []
        ids = {c.id for c in counted}
        first = min(c.committed_on for c in counted)
        start = date(first.year, (first.month - 1) // months * months + 1, 1)
        rows = []
        while start <= at.today:
            following = start
            for _ in range(months):
                following = (following + timedelta(days=32)).replace(day=1)
            end = min(following - timedelta(days=1), at.today)
            then = Moment.of(end)
            existing = [c for c in counted if c.committed_on <= end]
            states = [self.state(c, then) for c in existing]
            rows.append(
                {
                    "period_start": start.isoformat(),
                    "period_end": end.isoformat(),
                    "updates_posted": sum(
                        u.commitment_id in ids and midnight(start) <= u.reported_at < then.now
                        for u in self.s.updates
                    ),
                    "commitments_completed_cumulative": sum(
                        st.reported_status == "completed" for st in states
                    ),
                    "overdue_at_end": sum(
                        st.reported_status not in CLOSED and c.due_date < end
                        for c, st in zip(existing, states, strict=True)
                    ),
                }
            )
            start = following
        return rows


# --- reading the API ---


class Api:
    def __init__(self, client: TestClient, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers

    def get(self, path: str, **params: Any) -> Any:
        query = {k: str(v) for k, v in params.items() if v is not None}
        r = self.client.get(f"/v1/progress/{path}", params=query, headers=self.headers)
        assert r.status_code == 200, r.text
        return r.json()


def as_of_param(at: Moment) -> dict[str, Any]:
    return {"as_of": at.as_of.isoformat()} if at.as_of else {}


def filter_cases(scenario: Scenario) -> list[dict[str, Any]]:
    """No filter, each ministry, each cluster and each instrument, one at a time."""
    return [
        {},
        *({"ministry_id": m.id} for m in scenario.ministries),
        *({"cluster": n} for n in CLUSTER_NAMES),
        *({"instrument": i} for i in INSTRUMENTS),
    ]


@pytest.fixture(params=SEEDS, ids=lambda seed: f"seed{seed}")
def world(
    request: pytest.FixtureRequest, client: TestClient, session: Session, settings: Settings
) -> tuple[Scenario, Reference, Api]:
    scenario = make_scenario(session, request.param)
    return scenario, Reference(scenario), Api(client, auth(settings, scenario.member))


MOMENTS = (None, *PAST_DATES)


class TestScenarioIsRich:
    def test_the_random_history_exercises_every_rule(
        self, world: tuple[Scenario, Reference, Api]
    ) -> None:
        """A figure that is zero everywhere proves nothing: each rule must bite somewhere."""
        _, ref, _ = world
        now = ref.summary(Moment.of())
        past = [ref.summary(Moment.of(d)) for d in PAST_DATES]
        everything = [now, *past]
        for key in ("overdue", "stale", "contested"):
            assert any(s[key] for s in everything), key
        assert any(s["by_reported_status"]["completed"] for s in everything)
        assert any(s["by_verdict"]["disputes"] for s in everything)
        assert 0 < past[0]["commitments"] < now["commitments"]
        assert now["stale"] < now["commitments"] - now["by_reported_status"]["completed"]


class TestSummary:
    @pytest.mark.parametrize("as_of", MOMENTS, ids=str)
    def test_equals_the_reference(
        self, world: tuple[Scenario, Reference, Api], as_of: date | None
    ) -> None:
        scenario, ref, api = world
        at = Moment.of(as_of)
        for filters in filter_cases(scenario):
            assert api.get("summary", **filters, **as_of_param(at)) == ref.summary(at, **filters), (
                filters
            )

    @pytest.mark.parametrize("as_of", PAST_DATES, ids=str)
    def test_a_ministry_with_a_cluster_or_an_instrument_equals_the_reference(
        self, world: tuple[Scenario, Reference, Api], as_of: date
    ) -> None:
        """Two filters narrow the counted commitments twice; the recommendations'
        implementation is still over all their commitments."""
        scenario, ref, api = world
        at = Moment.of(as_of)
        second: list[dict[str, Any]] = [
            *({"cluster": n} for n in CLUSTER_NAMES),
            *({"instrument": i} for i in INSTRUMENTS),
        ]
        for m in scenario.ministries:
            for other in second:
                filters = {"ministry_id": m.id, **other}
                body = api.get("summary", **filters, **as_of_param(at))
                assert body == ref.summary(at, **filters), filters

    def test_a_statement_built_once_is_run_at_each_requests_day(
        self, world: tuple[Scenario, Reference, Api]
    ) -> None:
        """Every commitment as of each past day under one built statement: each answer
        is the reference's, so a statement that kept the first day's values fails."""
        _, ref, api = world
        moments = [Moment.of(day) for day in PAST_DATES]
        answers = [ref.summary(at) for at in moments]
        assert len({repr(a) for a in answers}) > 1, "the days must not all agree"
        service._every_summary.cache_clear()
        for at, answer in zip(moments, answers, strict=True):
            assert api.get("summary", **as_of_param(at)) == answer, at
        assert service._every_summary.cache_info().misses == 1

    def test_filters_narrow_the_counted_commitments(
        self, world: tuple[Scenario, Reference, Api]
    ) -> None:
        scenario, _, api = world
        everything = api.get("summary")["commitments"]
        by_ministry = [
            api.get("summary", ministry_id=m.id)["commitments"] for m in scenario.ministries
        ]
        counted = [c for c in scenario.commitments if c.archived_at is None]
        assert everything == len(counted)
        # Lead or supporting: every counted commitment is under at least its lead ministry.
        assert sum(by_ministry) >= everything
        assert all(n < everything for n in by_ministry)


class TestMinistries:
    @pytest.mark.parametrize("as_of", MOMENTS, ids=str)
    def test_equals_the_reference(
        self, world: tuple[Scenario, Reference, Api], as_of: date | None
    ) -> None:
        _, ref, api = world
        at = Moment.of(as_of)
        body = api.get("ministries", **as_of_param(at))
        expected = ref.ministries(at)
        assert body["as_of"] == at.today.isoformat()
        assert {row["ministry_id"]: row for row in body["items"]} == expected
        codes = [row["ministry_code"] for row in body["items"]]
        assert codes == sorted(codes)

    @pytest.mark.parametrize("as_of", [None, PAST_DATES[1]], ids=str)
    def test_filters(self, world: tuple[Scenario, Reference, Api], as_of: date | None) -> None:
        scenario, ref, api = world
        at = Moment.of(as_of)
        target = scenario.ministries[1]
        assert target.id is not None
        only = api.get("ministries", ministry_id=target.id, **as_of_param(at))["items"]
        assert only == [ref.ministries(at)[target.id]]
        for filters in ({"cluster": n} for n in CLUSTER_NAMES):
            rows = api.get("ministries", **filters, **as_of_param(at))["items"]
            assert {r["ministry_id"]: r for r in rows} == ref.ministries(at, **filters), filters
        for instrument in INSTRUMENTS:
            rows = api.get("ministries", instrument=instrument, **as_of_param(at))["items"]
            assert {r["ministry_id"]: r for r in rows} == ref.ministries(
                at, instrument=instrument
            ), instrument

    @pytest.mark.parametrize("one", [False, True], ids=["all", "one"])
    def test_a_statement_built_once_is_run_with_each_requests_values(
        self, world: tuple[Scenario, Reference, Api], one: bool
    ) -> None:
        """One shape (a cluster as of a past day; with ``one``, one ministry's row too)
        asked with other days, clusters and ministries: one statement is built, and each
        answer is the reference's, so a statement that kept the first request's values
        (the cutoff of the last update, the cluster, the ministry) would fail."""
        scenario, ref, api = world
        clusters = list(CLUSTER_NAMES)
        cases = [
            (Moment.of(day), {"cluster": clusters[n % len(clusters)]}, m.id if one else None)
            for n, (day, m) in enumerate(
                (day, m) for day in PAST_DATES for m in scenario.ministries
            )
        ]
        answers = [
            [ref.ministries(at, **filters)[ministry_id]]
            if ministry_id is not None
            else list(ref.ministries(at, **filters).values())
            for at, filters, ministry_id in cases
        ]
        assert len({repr(a) for a in answers}) > 1, "the cases must not all agree"
        repository._ministries_bound.cache_clear()
        for (at, filters, ministry_id), answer in zip(cases, answers, strict=True):
            body = api.get("ministries", **filters, ministry_id=ministry_id, **as_of_param(at))
            assert sorted(body["items"], key=lambda r: r["ministry_id"]) == sorted(
                answer, key=lambda r: r["ministry_id"]
            ), (at, filters, ministry_id)
        assert repository._ministries_bound.cache_info().misses == 1

    def test_archived_ministries_have_no_row(
        self, world: tuple[Scenario, Reference, Api], session: Session
    ) -> None:
        _, _, api = world
        archived = make_ministry(session, archived_at=datetime(2024, 1, 1, tzinfo=UTC))

        ids = {row["ministry_id"] for row in api.get("ministries")["items"]}

        assert archived.id not in ids


# Each breakdown, and the filter it is also read under besides a ministry's.
BREAKDOWNS: dict[str, list[dict[str, Any]]] = {
    "clusters": [{"instrument": i} for i in INSTRUMENTS],
    "instruments": [{"cluster": n} for n in CLUSTER_NAMES],
}


class TestClustersAndInstruments:
    @pytest.mark.parametrize("breakdown", list(BREAKDOWNS))
    @pytest.mark.parametrize("as_of", MOMENTS, ids=str)
    def test_equals_the_reference(
        self, world: tuple[Scenario, Reference, Api], as_of: date | None, breakdown: str
    ) -> None:
        scenario, ref, api = world
        at = Moment.of(as_of)
        cases: list[dict[str, Any]] = [
            {},
            *({"ministry_id": m.id} for m in scenario.ministries),
            *BREAKDOWNS[breakdown],
        ]
        expected = ref.clusters if breakdown == "clusters" else ref.instruments
        for filters in cases:
            body = api.get(breakdown, **filters, **as_of_param(at))
            assert body["as_of"] == at.today.isoformat()
            assert body["items"] == expected(at, **filters), filters
            if breakdown == "clusters":
                assert body["commitments_without_cluster"] == ref.without_cluster(at, **filters)

    @pytest.mark.parametrize("breakdown", list(BREAKDOWNS))
    def test_a_statement_built_once_is_run_with_each_requests_values(
        self, world: tuple[Scenario, Reference, Api], breakdown: str
    ) -> None:
        """One shape (a ministry and the other field, as of a past day) asked with other
        values each time: one statement is built, and each answer is the reference's,
        so a statement that kept the first request's values would fail."""
        scenario, ref, api = world
        expected = ref.clusters if breakdown == "clusters" else ref.instruments
        other = BREAKDOWNS[breakdown]
        cases = [
            (Moment.of(day), {"ministry_id": m.id, **other[n % len(other)]})
            for n, (day, m) in enumerate(
                (day, m) for day in PAST_DATES for m in scenario.ministries
            )
        ]
        answers = [expected(at, **filters) for at, filters in cases]
        assert len({repr(a) for a in answers}) > 1, "the cases must not all agree"
        bucket_repository._built.cache_clear()
        for (at, filters), answer in zip(cases, answers, strict=True):
            assert api.get(breakdown, **filters, **as_of_param(at))["items"] == answer, filters
        assert bucket_repository._built.cache_info().misses == 1


class TestTimeline:
    @pytest.mark.parametrize("as_of", MOMENTS, ids=str)
    def test_monthly_equals_the_reference(
        self, world: tuple[Scenario, Reference, Api], as_of: date | None
    ) -> None:
        _, ref, api = world
        at = Moment.of(as_of)
        body = api.get("timeline", interval="month", **as_of_param(at))
        assert body["interval"] == "month"
        assert body["as_of"] == at.today.isoformat()
        assert body["items"] == ref.timeline(at)
        assert body["items"][-1]["period_end"] == at.today.isoformat()

    @pytest.mark.parametrize("as_of", MOMENTS, ids=str)
    def test_quarterly_equals_the_reference(
        self, world: tuple[Scenario, Reference, Api], as_of: date | None
    ) -> None:
        _, ref, api = world
        at = Moment.of(as_of)
        body = api.get("timeline", interval="quarter", **as_of_param(at))
        assert body["interval"] == "quarter"
        assert body["items"] == ref.timeline(at, months=3)
        assert {date.fromisoformat(r["period_start"]).month for r in body["items"]} <= {1, 4, 7, 10}

    @pytest.mark.parametrize("as_of", [None, PAST_DATES[2]], ids=str)
    def test_filtered_equals_the_reference(
        self, world: tuple[Scenario, Reference, Api], as_of: date | None
    ) -> None:
        scenario, ref, api = world
        at = Moment.of(as_of)
        for filters in filter_cases(scenario)[1:]:
            body = api.get("timeline", interval="month", **filters, **as_of_param(at))
            assert body["items"] == ref.timeline(at, **filters), filters

    def test_a_period_end_agrees_with_the_summary_as_of_that_day(
        self, world: tuple[Scenario, Reference, Api]
    ) -> None:
        _, _, api = world
        items = api.get("timeline", interval="month", as_of=PAST_DATES[1].isoformat())["items"]
        for row in items[-6:]:
            then = api.get("summary", as_of=row["period_end"])
            assert (
                row["commitments_completed_cumulative"] == (then["by_reported_status"]["completed"])
            )
            assert row["overdue_at_end"] == then["overdue"], row


# --- hand-made cases with literal expectations ---


def at_(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class Small:
    """A hand-built world: two ministries, one reporter, one assessor."""

    def __init__(self, client: TestClient, session: Session, settings: Settings) -> None:
        self.session = session
        self.a = make_ministry(session, code="A-MIN")
        self.b = make_ministry(session, code="B-MIN")
        self.officer = make_user(session, Role.government_officer, ministries=[self.a, self.b])
        self.member = make_user(session, Role.alliance_member)
        self.api = Api(client, auth(settings, self.member))

    def commitment(self, **fields: Any) -> Commitment:
        fields.setdefault("lead", self.a)
        fields.setdefault("committed_on", date(2021, 1, 1))
        fields.setdefault("due_date", date(2021, 12, 31))
        return make_commitment(self.session, **fields)

    def update(
        self, c: Commitment, when: str, status: str, progress: int, **f: Any
    ) -> StatusUpdate:
        return make_update(
            self.session, c, by=self.officer, at=at_(when), status=status, progress=progress, **f
        )

    def assess(self, c: Commitment, when: str, verdict: str) -> None:
        make_assessment(self.session, c, by=self.member, at=at_(when), verdict=verdict)


@pytest.fixture
def small(client: TestClient, session: Session, settings: Settings) -> Small:
    return Small(client, session, settings)


class TestHandMade:
    def test_an_empty_database_has_zero_figures_and_an_empty_timeline(self, small: Small) -> None:
        summary = small.api.get("summary", as_of="2021-06-30")

        assert summary["commitments"] == 0
        assert summary["percent_completed"] == 0.0
        assert summary["mean_progress_percent"] == 0.0
        assert summary["by_reported_status"] == dict.fromkeys(STATUSES, 0)
        assert summary["by_implementation"] == dict.fromkeys(IMPLEMENTATIONS, 0)
        assert small.api.get("timeline", as_of="2021-06-30")["items"] == []
        rows = small.api.get("ministries", as_of="2021-06-30")["items"]
        assert [(r["ministry_code"], r["commitments_led"]) for r in rows] == [
            ("A-MIN", 0),
            ("B-MIN", 0),
        ]
        assert rows[0]["days_since_last_update"] is None
        # A ministry that leads nothing has no mean, not a mean of 0.
        assert rows[0]["mean_progress_percent"] is None
        clusters = small.api.get("clusters", as_of="2021-06-30")
        assert [r["mean_progress_percent"] for r in clusters["items"]] == [None] * 4
        assert clusters["commitments_without_cluster"] == 0

    def test_same_instant_updates_are_ordered_by_id_and_disputes_by_time(
        self, small: Small
    ) -> None:
        tie = small.commitment()
        small.update(tie, "2021-03-01T10:00", "completed", 100)
        small.update(tie, "2021-03-01T10:00", "stalled", 35)
        disputed_same_moment = small.commitment()
        small.update(disputed_same_moment, "2021-04-01T08:00", "in_progress", 20)
        small.assess(disputed_same_moment, "2021-04-01T08:00", "disputes")
        answered = small.commitment()
        small.assess(answered, "2021-04-01T08:00", "disputes")
        small.update(answered, "2021-04-01T08:00:01", "in_progress", 60)

        summary = small.api.get("summary", as_of="2021-06-30")

        assert summary["by_reported_status"] == {
            "not_started": 0,
            "in_progress": 2,
            "completed": 0,
            "stalled": 1,
            "cancelled": 0,
        }
        assert summary["contested"] == 1
        assert summary["by_verdict"]["disputes"] == 2
        # (35 + 20 + 60) / 3 = 38.333...
        assert summary["mean_progress_percent"] == 38.3

    def test_overdue_stale_and_completion_around_as_of(self, small: Small) -> None:
        done = small.commitment(due_date=date(2021, 6, 30))
        small.update(done, "2021-05-01", "completed", 100)
        late = small.commitment(due_date=date(2021, 6, 30))
        small.update(late, "2021-05-01", "in_progress", 40)
        later = small.commitment(committed_on=date(2021, 8, 1), due_date=date(2022, 1, 31))
        small.commitment(archived_at=at_("2021-02-01"), due_date=date(2021, 1, 31))

        july = small.api.get("summary", as_of="2021-07-01")
        june = small.api.get("summary", as_of="2021-06-30")
        october = small.api.get("summary", as_of="2021-10-01")

        assert (july["commitments"], july["overdue"], july["stale"]) == (2, 1, 0)
        assert july["percent_completed"] == 50.0
        assert june["overdue"] == 0  # due on the 30th: not yet before "today"
        # 2021-05-01 + 90 days = 2021-07-30; "later" was committed 2021-08-01.
        assert (october["commitments"], october["overdue"], october["stale"]) == (3, 1, 1)
        assert october["percent_completed"] == 33.3
        assert later.id is not None

    def test_mean_and_percent_round_half_up(self, small: Small) -> None:
        for progress in (10, 15, 15, 15):
            c = small.commitment()
            small.update(c, "2021-02-01", "in_progress", progress)
        for _ in range(4):
            small.commitment()
        completed = [small.commitment() for _ in range(8)]
        for c in completed[:1]:
            small.update(c, "2021-02-01", "completed", 100)

        summary = small.api.get("summary", as_of="2021-03-01")

        assert summary["commitments"] == 16
        # 1 of 16 = 6.25 % -> 6.3; (10+15+15+15+100) / 16 = 9.6875 -> 9.7
        assert summary["percent_completed"] == 6.3
        assert summary["mean_progress_percent"] == 9.7

    def test_a_ministrys_mean_rounds_half_up(self, small: Small) -> None:
        """6.25 and 10.45 (a float just below it) go up, as the summary's mean does."""
        for progress in (5, 5, 5, 10):
            small.update(small.commitment(), "2021-02-01", "in_progress", progress)
        for progress in (*[10] * 19, 19):
            c = small.commitment(lead=small.b)
            small.update(c, "2021-02-01", "in_progress", progress, ministry_id=small.b.id)

        a, b = small.api.get("ministries", as_of="2021-03-01")["items"]

        assert (a["commitments_led"], a["mean_progress_percent"]) == (4, 6.3)
        assert (b["commitments_led"], b["mean_progress_percent"]) == (20, 10.5)

    def test_scorecard_counts_lead_supporting_and_last_update(self, small: Small) -> None:
        c1 = small.commitment(supporting=[small.b])
        small.update(c1, "2021-03-10T12:00", "in_progress", 30, ministry_id=small.b.id)
        c2 = small.commitment()
        small.update(c2, "2021-02-01", "completed", 100)
        small.commitment(lead=small.b)

        rows = small.api.get("ministries", as_of="2021-03-20")["items"]

        a, b = rows
        assert (a["ministry_code"], a["commitments_led"], a["commitments_supporting"]) == (
            "A-MIN",
            2,
            0,
        )
        assert (a["in_progress"], a["completed"], a["mean_progress_percent"]) == (1, 1, 65.0)
        assert a["days_since_last_update"] == 47  # 2021-02-01 -> 2021-03-20
        assert (b["commitments_led"], b["commitments_supporting"], b["not_started"]) == (1, 1, 1)
        assert b["days_since_last_update"] == 10  # posted for B on 2021-03-10

    def test_a_commitment_counts_under_every_cluster_and_instrument_of_its_provisions(
        self, small: Small
    ) -> None:
        p1 = make_provision(small.session, instrument="untoc", cluster=2)
        p2 = make_provision(small.session, instrument="trafficking_protocol", cluster=3)
        p3 = make_provision(small.session, instrument="trafficking_protocol", cluster=None)
        r1 = make_recommendation(small.session, provision_keys=[p1.key, p2.key])
        r2 = make_recommendation(small.session, provision_keys=[p2.key, p3.key])
        both = small.commitment(recommendations=[r1, r2])
        small.update(both, "2021-02-01", "completed", 100)
        small.commitment(recommendations=[r2])
        small.commitment()  # tied to no provision: in no cluster and no instrument
        r3 = make_recommendation(small.session, provision_keys=[p3.key])
        small.commitment(recommendations=[r3])  # its one provision has no cluster

        body = small.api.get("clusters", as_of="2021-03-01")
        clusters = body["items"]
        instruments = small.api.get("instruments", as_of="2021-03-01")["items"]

        assert [(r["cluster"], r["commitments"], r["completed"]) for r in clusters] == [
            (1, 0, 0),
            (2, 1, 1),
            (3, 2, 1),
            (4, 0, 0),
        ]
        # Neither the commitment without provisions nor the one citing only p3 has a cluster.
        assert body["commitments_without_cluster"] == 2
        assert [(r["instrument"], r["commitments"]) for r in instruments] == [
            ("untoc", 1),
            ("trafficking_protocol", 3),
            ("smuggling_protocol", 0),
            ("firearms_protocol", 0),
        ]
        assert small.api.get("summary", cluster=3, as_of="2021-03-01")["commitments"] == 2
        assert (
            small.api.get("summary", instrument="untoc", as_of="2021-03-01")["recommendations"] == 1
        )

    def test_timeline_by_month(self, small: Small) -> None:
        c1 = small.commitment(committed_on=date(2021, 1, 15), due_date=date(2021, 2, 10))
        small.update(c1, "2021-01-20", "in_progress", 10)
        small.update(c1, "2021-03-05", "completed", 100)
        c2 = small.commitment(committed_on=date(2021, 2, 3), due_date=date(2021, 2, 28))
        small.update(c2, "2021-02-04", "completed", 100)
        small.update(c2, "2021-03-31T23:59:59", "in_progress", 90)

        items = small.api.get("timeline", interval="month", as_of="2021-04-10")["items"]

        assert [
            (
                r["period_start"],
                r["period_end"],
                r["updates_posted"],
                r["commitments_completed_cumulative"],
                r["overdue_at_end"],
            )
            for r in items
        ] == [
            ("2021-01-01", "2021-01-31", 1, 0, 0),
            ("2021-02-01", "2021-02-28", 1, 1, 1),  # c1 overdue; c2 (due the 28th) done
            ("2021-03-01", "2021-03-31", 2, 1, 1),  # c1 done; c2 reopened and overdue
            ("2021-04-01", "2021-04-10", 0, 1, 1),
        ]

    def test_a_ministry_answers_a_recommendation_only_once_it_has_committed(
        self, small: Small
    ) -> None:
        rec = make_recommendation(small.session, source_date=date(2020, 10, 1))
        small.commitment(lead=small.b, recommendations=[rec], committed_on=date(2021, 1, 1))
        small.commitment(lead=small.a, recommendations=[rec], committed_on=date(2021, 6, 1))

        def recs(as_of: str) -> tuple[int, dict[str, int], list[int]]:
            s = small.api.get("summary", ministry_id=small.a.id, as_of=as_of)
            r = small.api.client.get(
                "/v1/recommendations",
                params={"ministry_id": small.a.id, "as_of": as_of},
                headers=small.api.headers,
            )
            assert r.status_code == 200, r.text
            return (
                s["recommendations"],
                s["by_implementation"],
                [i["id"] for i in r.json()["items"]],
            )

        # In March only ministry B had committed: A answered no recommendation yet.
        assert recs("2021-03-01") == (0, dict.fromkeys(IMPLEMENTATIONS, 0), [])
        assert recs("2021-06-01") == (
            1,
            {"no_commitment": 0, "not_started": 1, "in_progress": 0, "completed": 0},
            [rec.id],
        )


# --- the kept figures rows (commitment_figures) after every kind of write ---


def reloaded(session: Session, scenario: Scenario) -> Scenario:
    """``scenario`` as the database now holds it: commitments (new ones too), links,
    provisions and every update and assessment, after writes through the API."""
    session.expire_all()
    links = {
        (c, r) for c, r in session.exec(select(CommitmentRecommendation.commitment_id,
                                               CommitmentRecommendation.recommendation_id))
    }  # fmt: skip
    support = set(
        session.exec(select(CommitmentSupport.commitment_id, CommitmentSupport.ministry_id))
    )
    cited = set(session.exec(select(RecommendationProvision.recommendation_id,
                                    RecommendationProvision.provision_key)))  # fmt: skip
    commitments = list(session.exec(select(Commitment).order_by(col(Commitment.id))))
    return replace(
        scenario,
        provisions={p.key: p for p in session.exec(select(Provision))},
        recommendations=list(session.exec(select(Recommendation).order_by(col(Recommendation.id)))),
        commitments=commitments,
        rec_provisions={
            r.id or 0: sorted(k for rid, k in cited if rid == r.id)
            for r in session.exec(select(Recommendation))
        },
        rec_links={c.id or 0: sorted(r for cid, r in links if cid == c.id) for c in commitments},
        supporting={c.id or 0: sorted(m for cid, m in support if cid == c.id) for c in commitments},
        updates=list(session.exec(select(StatusUpdate))),
        assessments=list(session.exec(select(Assessment))),
    )


def figure_rows(session: Session) -> list[tuple[Any, ...]]:
    rows = session.exec(select(CommitmentFigures).order_by(col(CommitmentFigures.commitment_id)))
    return [tuple(row.model_dump().values()) for row in rows]


def timeline_rows(session: Session) -> tuple[set[tuple[Any, ...]], ...]:
    """The kept timeline rows (per commitment and day, per day, per ministry and day)
    without all-zero ones."""
    per_commitment = {
        (r.commitment_id, r.day, r.updates, r.completed, r.closed_due, r.due)
        for r in session.exec(select(CommitmentTimelineDay))
        if any((r.updates, r.completed, r.closed_due, r.due))
    }
    per_day = {
        (r.day, r.updates, r.completed, r.closed_due, r.due)
        for r in session.exec(select(TimelineDay))
        if any((r.updates, r.completed, r.closed_due, r.due))
    }
    per_ministry = {
        (r.ministry_id, r.day, r.updates, r.completed, r.closed_due, r.due)
        for r in session.exec(select(MinistryTimelineDay))
        if any((r.updates, r.completed, r.closed_due, r.due))
    }
    return per_commitment, per_day, per_ministry


class TestKeptFiguresFollowEveryWrite:
    def test_figures_equal_the_reference_after_edits_links_archive_posts_and_imports(
        self,
        world: tuple[Scenario, Reference, Api],
        client: TestClient,
        session: Session,
        settings: Settings,
    ) -> None:
        """Each write that changes what a figure reads rewrites the commitments' figures
        rows in its own transaction: afterwards every figure, now and as of a past day,
        equals the reference over the rows the database holds, and the kept rows equal
        those a rebuild from the records writes."""
        scenario, _, api = world
        sec = auth(settings, scenario.secretariat)
        live = [c for c in scenario.commitments if c.archived_at is None]
        ms = scenario.ministries

        def patch(path: str, version: int, body: dict[str, Any]) -> None:
            r = client.patch(path, json=body, headers={**sec, "If-Match": f'"v{version}"'})
            assert r.status_code == 200, r.text

        # A new lead (and earlier due date), new recommendations, an archive.
        moved = live[0]
        new_lead = next(
            m for m in ms
            if m.id != moved.lead_ministry_id and m.id not in scenario.supporting[moved.id or 0]
        )  # fmt: skip
        patch(
            f"/v1/commitments/{moved.id}",
            moved.version,
            {"lead_ministry_id": new_lead.id, "due_date": moved.committed_on.isoformat()},
        )
        relinked = live[1]
        active = [r.id for r in scenario.recommendations if r.archived_at is None]
        others = [r for r in active if r not in scenario.rec_links[relinked.id or 0]]
        patch(f"/v1/commitments/{relinked.id}", relinked.version,
              {"recommendation_ids": others[:2]})  # fmt: skip
        # Supporting ministries: one left, another joined (and the lead kept).
        resupported = live[8]
        was = scenario.supporting[resupported.id or 0]
        joined = [m.id for m in ms if m.id != resupported.lead_ministry_id and m.id not in was]
        patch(f"/v1/commitments/{resupported.id}", resupported.version,
              {"supporting_ministry_ids": [*was[1:], *joined[:1]]})  # fmt: skip
        archived = live[2]
        r = client.post(f"/v1/commitments/{archived.id}/archive", headers=sec)
        assert r.status_code == 200, r.text
        # A recommendation's provisions, a provision's cluster and instrument.
        rec = next(r for r in scenario.recommendations if r.archived_at is None)
        patch(f"/v1/recommendations/{rec.id}", rec.version,
              {"provision_keys": ["SOM-6", "FIREARMS-8"]})  # fmt: skip
        provision = scenario.provisions["TIP-6"]
        new_cluster = next(n for n in CLUSTER_NAMES if n != provision.cluster)
        patch(f"/v1/provisions/{provision.key}", provision.version,
              {"cluster": new_cluster, "instrument": "smuggling_protocol"})  # fmt: skip
        # Posts: a completion and a dispute.
        completion = status_update_body(status="completed", progress_percent=100)
        r = client.post(f"/v1/commitments/{live[3].id}/status-updates", headers=sec,
                        json=completion)  # fmt: skip
        assert r.status_code == 201, r.text
        r = client.post(f"/v1/commitments/{live[4].id}/assessments", headers=sec,
                        json=assessment_body(verdict="disputes"))  # fmt: skip
        assert r.status_code == 201, r.text
        # Imports: a new commitment, an edited one, and a status update older than the newest.
        rec_codes = [r.code for r in scenario.recommendations if r.archived_at is None]
        edited = live[5]
        commitments_file = csv_file(Kind.commitments, [{
            "code": "GOK-C-IMPORTED", "title": "Imported", "description": "From a file",
            "recommendation_codes": "; ".join(rec_codes[:2]), "lead_ministry_code": ms[0].code,
            "committed_on": "2024-02-01", "due_date": "2024-09-30", "indicator": "Done",
        }, {
            "code": edited.code, "title": edited.title, "description": edited.description,
            "recommendation_codes": rec_codes[-1], "lead_ministry_code": ms[-1].code,
            "committed_on": edited.committed_on.isoformat(),
            "due_date": (edited.committed_on + timedelta(days=30)).isoformat(),
            "indicator": edited.indicator,
        }])  # fmt: skip
        r = client.post("/v1/imports/commitments", headers=sec,
                        files={"file": ("c.csv", commitments_file, "text/csv")})  # fmt: skip
        assert r.status_code == 200, r.text
        officer_ministry = next(m for m in ms if m.id == live[6].lead_ministry_id)
        updates_file = csv_file(Kind.status_updates, [{
            "commitment_code": live[6].code, "ministry_code": officer_ministry.code,
            "reported_by_email": scenario.secretariat.email,
            "reported_at": "2024-03-15T10:00:00Z", "status": "stalled",
            "progress_percent": "10", "summary": "Imported late",
        }, {
            "commitment_code": "GOK-C-IMPORTED", "ministry_code": ms[0].code,
            "reported_by_email": scenario.secretariat.email,
            "reported_at": "2024-05-15T10:00:00Z", "status": "in_progress",
            "progress_percent": "30", "summary": "Imported",
        }])  # fmt: skip
        r = client.post("/v1/imports/status-updates", headers=sec,
                        files={"file": ("u.csv", updates_file, "text/csv")})  # fmt: skip
        assert r.status_code == 200, r.text

        # Imports at period edges: the last second of a month and of an as_of day, and
        # the first of the next (a completion there, reopened on the next month's first).
        edged = live[7]
        edged_ministry = next(m for m in ms if m.id == edged.lead_ministry_id)
        edges = [
            ("2024-09-30T23:59:59Z", "completed", "100"),
            ("2024-10-01T00:00:00Z", "in_progress", "60"),
            ("2024-10-15T23:59:59Z", "completed", "100"),
            ("2024-10-16T00:00:00Z", "cancelled", "0"),
            ("2025-03-31T23:59:59Z", "completed", "100"),
        ]
        edges_file = csv_file(Kind.status_updates, [{
            "commitment_code": edged.code, "ministry_code": edged_ministry.code,
            "reported_by_email": scenario.secretariat.email, "reported_at": at,
            "status": status, "progress_percent": progress, "summary": "At an edge",
        } for at, status, progress in edges])  # fmt: skip
        r = client.post("/v1/imports/status-updates", headers=sec,
                        files={"file": ("e.csv", edges_file, "text/csv")})  # fmt: skip
        assert r.status_code == 200, r.text

        now = reloaded(session, scenario)
        assert any(c.code == "GOK-C-IMPORTED" for c in now.commitments)
        ref = Reference(now)
        # The timeline (kept per commitment and day) after every write above.
        for as_of in (None, PAST_DATES[1], PAST_DATES[2]):
            at = Moment.of(as_of)
            for months, interval in ((1, "month"), (3, "quarter")):
                body = api.get("timeline", interval=interval, **as_of_param(at))
                assert body["items"] == ref.timeline(at, months=months), (as_of, interval)
            # Every ministry: the old and new lead, those left and joined as supporting.
            cases: list[dict[str, Any]] = [{"ministry_id": m.id} for m in ms]
            for filters in [
                *cases,
                {"cluster": new_cluster},
                {"ministry_id": ms[0].id, "cluster": new_cluster},
            ]:
                body = api.get("timeline", interval="month", **filters, **as_of_param(at))
                assert body["items"] == ref.timeline(at, **filters), (as_of, filters)
        for as_of in (None, PAST_DATES[1], PAST_DATES[2]):
            at = Moment.of(as_of)
            for filters in filter_cases(now):
                assert api.get("summary", **filters, **as_of_param(at)) == ref.summary(
                    at, **filters
                ), (as_of, filters)
            body = api.get("ministries", **as_of_param(at))
            assert {row["ministry_id"]: row for row in body["items"]} == ref.ministries(at)
            assert api.get("clusters", **as_of_param(at))["items"] == ref.clusters(at)
            assert api.get("instruments", **as_of_param(at))["items"] == ref.instruments(at)
        kept = figure_rows(session)
        assert len(kept) == sum(c.archived_at is None for c in now.commitments)
        figures.refresh(session)
        assert figure_rows(session) == kept
        # The migration's backfill writes the very same rows.
        session.execute(delete(CommitmentFigures))
        session.execute(text(_migration("2026-12-03_commitment_figures.py").BACKFILL))
        assert figure_rows(session) == kept
        # The timeline's kept rows equal those a rebuild from the records writes.
        days = timeline_rows(session)
        assert days[2], "the ministries' rows are kept"
        timeline_days.refresh(session)
        assert timeline_rows(session) == days
        # The migration's backfill writes the same ministries' rows.
        session.execute(delete(MinistryTimelineDay))
        session.execute(text(_migration("2026-12-03_ministry_timeline_days.py").BACKFILL))
        assert timeline_rows(session) == days
