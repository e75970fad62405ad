"""The demo scenario (``data/demo.json``), loaded through the same services as the API."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from importlib import resources
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from vpitracker.commitments import service as commitments_service
from vpitracker.commitments.schemas import CommitmentCreate
from vpitracker.kernel import credentials
from vpitracker.kernel.actor import Actor
from vpitracker.ministries import service as ministries_service
from vpitracker.ministries.schemas import MinistryCreate
from vpitracker.models import Ministry, User
from vpitracker.recommendations import service as recommendations_service
from vpitracker.recommendations.schemas import RecommendationCreate
from vpitracker.reporting import service as reporting_service
from vpitracker.reporting.schemas import AssessmentCreate, StatusUpdateCreate
from vpitracker.users import service as users_service
from vpitracker.users.schemas import UserCreate

# What load() creates, in the order it creates it (for its progress report).
_KINDS = ("ministries", "users", "recommendations", "commitments", "status_updates", "assessments")

# Development only: `seed demo` refuses to run in production mode.
DEMO_PASSWORD = "vpi-demo-password"


def scenario() -> dict[str, Any]:
    text = resources.files("vpitracker.data").joinpath("demo.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def is_empty(session: Session) -> bool:
    return session.exec(select(func.count()).select_from(Ministry)).one() == 0


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def load(session: Session, *, progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Create every record of the scenario; returns how many of each were made."""
    data = scenario()
    total = sum(len(data[k]) for k in _KINDS)

    def done(*kinds: str, extra: int = 0) -> None:
        if progress is not None:
            progress(sum(len(data[k]) for k in kinds) + extra, total)

    ministry_ids: dict[str, int] = {}
    pending = list(data["ministries"])
    secretariat: Actor | None = None
    while pending:  # parents before their children
        ready = [m for m in pending if m["parent_code"] is None or m["parent_code"] in ministry_ids]
        if not ready:
            raise ValueError("ministry parents form a cycle in demo.json")
        for m in ready:
            pending.remove(m)
            body = MinistryCreate(
                code=m["code"],
                name=m["name"],
                kind=m["kind"],
                parent_id=ministry_ids.get(m["parent_code"]) if m["parent_code"] else None,
                contact_email=m["contact_email"],
            )
            if secretariat is None:
                secretariat = _first_secretariat(session, data)
            created = ministries_service.create(session, secretariat, body)
            assert created.id is not None
            ministry_ids[m["code"]] = created.id
    done("ministries")
    actors: dict[str, Actor] = {}
    for u in data["users"]:
        ministries = [ministry_ids[c] for c in u["ministry_codes"]]
        actors[u["email"]] = _account(session, secretariat, u, ministries)
    assert secretariat is not None
    done("ministries", "users")
    rec_ids: dict[str, int] = {}
    for r in data["recommendations"]:
        rec = recommendations_service.create(session, secretariat, RecommendationCreate(**r))
        assert rec.id is not None
        rec_ids[r["code"]] = rec.id
    done("ministries", "users", "recommendations")
    commitment_ids: dict[str, int] = {}
    for c in data["commitments"]:
        commitment_body = CommitmentCreate(
            code=c["code"],
            title=c["title"],
            description=c["description"],
            recommendation_ids=[rec_ids[x] for x in c["recommendation_codes"]],
            lead_ministry_id=ministry_ids[c["lead_ministry_code"]],
            supporting_ministry_ids=[ministry_ids[x] for x in c["supporting_ministry_codes"]],
            committed_on=c["committed_on"],
            due_date=c["due_date"],
            indicator=c["indicator"],
        )
        commitment = commitments_service.create(session, secretariat, commitment_body)
        assert commitment.id is not None
        commitment_ids[c["code"]] = commitment.id
    # Updates and assessments refer to each other: replay them in time order.
    events = [("update", u["reported_at"], u) for u in data["status_updates"]] + [
        ("assessment", a["assessed_at"], a) for a in data["assessments"]
    ]
    refs: dict[str, int] = {}
    before_events = ("ministries", "users", "recommendations", "commitments")
    for number, (kind, at, item) in enumerate(sorted(events, key=lambda e: e[1]), start=1):
        done(*before_events, extra=number)
        commitment_id = commitment_ids[item["commitment_code"]]
        if kind == "update":
            update = reporting_service.post_update(
                session,
                actors[item["reported_by_email"]],
                commitment_id,
                StatusUpdateCreate(
                    status=item["status"],
                    progress_percent=item["progress_percent"],
                    summary=item["summary"],
                    evidence=item["evidence"],
                    in_reply_to_assessment_id=refs[item["in_reply_to"]]
                    if item["in_reply_to"]
                    else None,
                    ministry_id=ministry_ids[item["ministry_code"]],
                ),
                reported_at=_at(at),
            )
            assert update.id is not None
            refs[item["ref"]] = update.id
        else:
            assessment = reporting_service.post_assessment(
                session,
                actors[item["assessed_by_email"]],
                commitment_id,
                AssessmentCreate(
                    status_update_id=refs[item["status_update_ref"]]
                    if item["status_update_ref"]
                    else None,
                    verdict=item["verdict"],
                    assessed_status=item["assessed_status"],
                    rationale=item["rationale"],
                    evidence=item["evidence"],
                ),
                assessed_at=_at(at),
            )
            assert assessment.id is not None
            refs[item["ref"]] = assessment.id
    return {
        "ministries": len(ministry_ids),
        "users": len(actors),
        "recommendations": len(rec_ids),
        "commitments": len(commitment_ids),
        "status_updates": len(data["status_updates"]),
        "assessments": len(data["assessments"]),
    }


def _first_secretariat(session: Session, data: dict[str, Any]) -> Actor:
    """The scenario's secretariat account, created first so it can act for the rest."""
    u = next(u for u in data["users"] if u["role"] == "secretariat")
    return _account(session, None, u, [])


def _account(
    session: Session, creator: Actor | None, u: dict[str, Any], ministry_ids: list[int]
) -> Actor:
    """The scenario's account ``u`` as an actor, created by ``creator`` unless it exists."""
    existing = session.exec(select(User).where(User.email == u["email"])).first()
    user = existing or users_service.create(
        session,
        creator,
        UserCreate(
            email=u["email"],
            full_name=u["full_name"],
            role=u["role"],
            organization=u["organization"],
            ministry_ids=ministry_ids,
            password=DEMO_PASSWORD,
        ),
    )
    return credentials.actor_for_user(session, user)


def secretariat_email() -> str:
    return str(next(u["email"] for u in scenario()["users"] if u["role"] == "secretariat"))
