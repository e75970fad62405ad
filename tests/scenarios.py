"""Seeded random scenarios: dashboards' figures, reports and statement counts."""

from __future__ import annotations

import random
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session

from tests.factories import (
    make_assessment,
    make_commitment,
    make_ministry,
    make_recommendation,
    make_update,
    make_user,
)
from vpitracker.models import (
    Assessment,
    Commitment,
    Ministry,
    Provision,
    Recommendation,
    StatusUpdate,
    User,
    utcnow,
)
from vpitracker.vocab import Role

# Catalogue provisions a scenario ties its recommendations to (it reassigns their clusters).
SCENARIO_PROVISIONS = (
    "UNTOC-5",
    "UNTOC-6",
    "UNTOC-18",
    "TIP-6",
    "TIP-9",
    "SOM-6",
    "SOM-16",
    "FIREARMS-8",
    "FIREARMS-10",
)


@dataclass
class Scenario:
    """The rows a scenario wrote, with the links a test needs to recompute figures."""

    secretariat: User
    officer: User
    member: User
    ministries: list[Ministry]
    provisions: dict[str, Provision]
    recommendations: list[Recommendation]
    commitments: list[Commitment]
    # recommendation id -> provision keys; commitment id -> recommendation / ministry ids
    rec_provisions: dict[int, list[str]] = dataclass_field(default_factory=dict)
    rec_links: dict[int, list[int]] = dataclass_field(default_factory=dict)
    supporting: dict[int, list[int]] = dataclass_field(default_factory=dict)
    updates: list[StatusUpdate] = dataclass_field(default_factory=list)
    assessments: list[Assessment] = dataclass_field(default_factory=list)


def _random_day(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, max((last - first).days, 0)))


def _random_instant(rng: random.Random, first: date, last: date) -> datetime:
    day = _random_day(rng, first, last)
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
        seconds=rng.randint(0, 86_399)
    )


_STATUSES = ("in_progress", "in_progress", "completed", "stalled", "cancelled", "not_started")
_VERDICTS = ("agrees", "partially_agrees", "disputes", "disputes", "insufficient_evidence")


def make_scenario(
    session: Session,
    seed: int,
    *,
    ministries: int = 4,
    recommendations: int = 8,
    commitments: int = 25,
    first: date = date(2023, 1, 1),
    last: date = date(2025, 12, 31),
    recent: bool = True,
) -> Scenario:
    """A seeded random oversight history between ``first`` and ``last``.

    Recommendations carry 0-3 catalogue provisions (clusters reassigned at random,
    some none); commitments are committed on or after their recommendations'
    ``source_date``, some archived; updates and assessments have explicit times,
    some at the same instant (ties and same-moment disputes). With ``recent``, a
    few updates are 1-60 days old so "now" is not stale for everything.
    """
    rng = random.Random(seed)
    ms = [make_ministry(session) for _ in range(ministries)]
    scenario = Scenario(
        secretariat=make_user(session, Role.secretariat),
        officer=make_user(session, Role.government_officer, ministries=ms),
        member=make_user(session, Role.alliance_member),
        ministries=ms,
        provisions={},
        recommendations=[],
        commitments=[],
    )
    for key in SCENARIO_PROVISIONS:
        provision = session.get(Provision, key)
        assert provision is not None, key
        provision.cluster = rng.choice((1, 2, 3, 4, None))
        session.add(provision)
        scenario.provisions[key] = provision
    session.commit()

    for _ in range(recommendations):
        keys = rng.sample(SCENARIO_PROVISIONS, rng.randint(0, 3))
        rec = make_recommendation(
            session,
            provision_keys=keys,
            source_date=None
            if rng.random() < 0.1
            else _random_day(rng, date(2022, 1, 1), date(2024, 12, 31)),
            priority=rng.choice(("high", "medium", "low")),
        )
        assert rec.id is not None
        scenario.recommendations.append(rec)
        scenario.rec_provisions[rec.id] = sorted(keys)
    # One archived recommendation: never counted, never linked.
    archived_rec = make_recommendation(session, archived_at=datetime(2024, 1, 1, tzinfo=UTC))
    assert archived_rec.id is not None
    scenario.recommendations.append(archived_rec)
    scenario.rec_provisions[archived_rec.id] = []
    active_recs = scenario.recommendations[:-1]

    for _ in range(commitments):
        lead = rng.choice(ms)
        others = [m for m in ms if m.id != lead.id]
        supporting = rng.sample(others, rng.randint(0, min(2, len(others))))
        recs = rng.sample(active_recs, rng.randint(0, min(2, len(active_recs))))
        earliest = max([first, *(r.source_date for r in recs if r.source_date is not None)])
        committed_on = _random_day(rng, earliest, last)
        commitment = make_commitment(
            session,
            lead=lead,
            supporting=supporting,
            recommendations=recs,
            committed_on=committed_on,
            due_date=committed_on + timedelta(days=rng.randint(30, 900)),
            archived_at=datetime(2025, 6, 1, tzinfo=UTC) if rng.random() < 0.08 else None,
        )
        assert commitment.id is not None
        scenario.commitments.append(commitment)
        scenario.supporting[commitment.id] = [m.id for m in supporting if m.id is not None]
        scenario.rec_links[commitment.id] = [r.id for r in recs if r.id is not None]
        _random_history(session, rng, scenario, commitment, last, recent=recent)
    return scenario


def _random_history(
    session: Session,
    rng: random.Random,
    scenario: Scenario,
    commitment: Commitment,
    last: date,
    *,
    recent: bool,
) -> None:
    assert commitment.id is not None
    reporters = [commitment.lead_ministry_id, *scenario.supporting[commitment.id]]
    instants: list[datetime] = []
    for _ in range(rng.choice((0, 0, 1, 2, 3, 4))):
        if instants and rng.random() < 0.15:
            when = rng.choice(instants)  # two updates at the same instant: the later id wins
        else:
            when = _random_instant(rng, commitment.committed_on, last)
        instants.append(when)
    if recent and rng.random() < 0.25:
        instants.append(utcnow() - timedelta(days=rng.randint(1, 60), seconds=rng.randint(0, 999)))
    for when in instants:
        status = rng.choice(_STATUSES)
        progress = {"completed": 100, "not_started": 0}.get(status, rng.randrange(5, 100, 5))
        scenario.updates.append(
            make_update(
                session,
                commitment,
                by=scenario.officer,
                at=when,
                status=status,
                progress=progress,
                ministry_id=rng.choice(reporters),
            )
        )
    for _ in range(rng.choice((0, 0, 1, 2))):
        if instants and rng.random() < 0.3:
            when = rng.choice(instants)  # a dispute at the very instant of an update
        else:
            when = _random_instant(rng, commitment.committed_on, last)
        scenario.assessments.append(
            make_assessment(
                session,
                commitment,
                by=scenario.member,
                at=when,
                verdict=rng.choice(_VERDICTS),
                assessed_status=rng.choice(_STATUSES),
            )
        )
