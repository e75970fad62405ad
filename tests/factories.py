"""Plain factory functions: rows written directly, tokens and headers for HTTP calls."""

from __future__ import annotations

import itertools
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlmodel import Session

from vpitracker.auth import tokens
from vpitracker.auth.passwords import hash_password
from vpitracker.config import Settings
from vpitracker.models import (
    Assessment,
    Commitment,
    CommitmentRecommendation,
    CommitmentSupport,
    Ministry,
    Recommendation,
    RecommendationProvision,
    StatusUpdate,
    User,
    UserMinistry,
    utcnow,
)
from vpitracker.vocab import Role

PASSWORD = "correct horse battery staple"
_n = itertools.count(1)


@lru_cache
def _hash(password: str) -> str:
    return hash_password(password)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_n)}"


def make_ministry(session: Session, **fields: Any) -> Ministry:
    values: dict[str, Any] = {"code": unique("M"), "name": unique("Ministry "), "kind": "ministry"}
    values.update(fields)
    ministry = Ministry(**values)
    session.add(ministry)
    session.commit()
    return ministry


def make_user(
    session: Session,
    role: Role = Role.secretariat,
    *,
    ministries: list[Ministry] | None = None,
    password: str = PASSWORD,
    **fields: Any,
) -> User:
    values: dict[str, Any] = {
        "email": f"{unique('user')}@example.org",
        "full_name": unique("Person "),
        "role": role.value,
        "password_hash": _hash(password),
    }
    values.update(fields)
    user = User(**values)
    session.add(user)
    session.commit()
    for ministry in ministries or []:
        session.add(UserMinistry(user_id=user.id, ministry_id=ministry.id))
    session.commit()
    return user


def make_recommendation(
    session: Session, *, provision_keys: list[str] | None = None, **fields: Any
) -> Recommendation:
    values: dict[str, Any] = {
        "code": unique("VPI-R-"),
        "title": unique("Recommendation "),
        "text": "Text of the recommendation",
        "source": "VPI Kenya",
        "priority": "medium",
        "government_response": "supported",
    }
    values.update(fields)
    rec = Recommendation(**values)
    session.add(rec)
    session.commit()
    for key in provision_keys or []:
        session.add(RecommendationProvision(recommendation_id=rec.id, provision_key=key))
    session.commit()
    return rec


def make_commitment(
    session: Session,
    *,
    lead: Ministry,
    supporting: list[Ministry] | None = None,
    recommendations: list[Recommendation] | None = None,
    **fields: Any,
) -> Commitment:
    values: dict[str, Any] = {
        "code": unique("GOK-C-"),
        "title": unique("Commitment "),
        "description": "What the government promised",
        "lead_ministry_id": lead.id,
        "committed_on": utcnow().date(),
        "due_date": date(2030, 12, 31),
        "indicator": "How completion is measured",
    }
    values.update(fields)
    commitment = Commitment(**values)
    session.add(commitment)
    session.commit()
    for ministry in supporting or []:
        session.add(CommitmentSupport(commitment_id=commitment.id, ministry_id=ministry.id))
    for rec in recommendations or []:
        session.add(CommitmentRecommendation(commitment_id=commitment.id, recommendation_id=rec.id))
    session.commit()
    return commitment


def make_update(
    session: Session,
    commitment: Commitment,
    *,
    by: User,
    at: datetime,
    status: str = "in_progress",
    progress: int = 50,
    **fields: Any,
) -> StatusUpdate:
    """A status update row written directly (no audit event): for derived-state tests."""
    update = StatusUpdate(
        commitment_id=commitment.id,
        ministry_id=fields.pop("ministry_id", commitment.lead_ministry_id),
        status=status,
        progress_percent=progress,
        summary=fields.pop("summary", "Progress report"),
        reported_by=by.id,
        reported_at=at,
        **fields,
    )
    session.add(update)
    session.commit()
    return update


def make_assessment(
    session: Session,
    commitment: Commitment,
    *,
    by: User,
    at: datetime,
    verdict: str = "agrees",
    assessed_status: str = "in_progress",
    **fields: Any,
) -> Assessment:
    """An assessment row written directly (no audit event): for derived-state tests."""
    assessment = Assessment(
        commitment_id=commitment.id,
        verdict=verdict,
        assessed_status=assessed_status,
        rationale=fields.pop("rationale", "The alliance's view"),
        assessed_by=by.id,
        assessed_at=at,
        **fields,
    )
    session.add(assessment)
    session.commit()
    return assessment


def token_for(settings: Settings, user: User) -> str:
    assert user.id is not None
    token, _ = tokens.issue(settings, user_id=user.id, role=user.role)
    return token


def auth(settings: Settings, user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(settings, user)}"}
