"""Plain factory functions: rows written directly, and valid request bodies.

Credentials for HTTP calls are in tests/credentials.py, checks shared by the suite in
tests/assertions.py, seeded random histories in tests/scenarios.py.
"""

from __future__ import annotations

import importlib
import itertools
import json
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Protocol

from sqlmodel import Session

from vpitracker.auth.passwords import hash_password
from vpitracker.commitments.service import refresh_latest
from vpitracker.models import (
    Assessment,
    Commitment,
    CommitmentRecommendation,
    CommitmentSupport,
    Ministry,
    Provision,
    Recommendation,
    RecommendationProvision,
    StatusUpdate,
    User,
    UserMinistry,
    WebhookSubscription,
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


class Stored(Protocol):
    @property
    def id(self) -> int | None: ...


def pk(row: Stored) -> int:
    """The id of a row already written (models type ``id`` as optional until then)."""
    assert row.id is not None, row
    return row.id


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
        session.add(UserMinistry(user_id=pk(user), ministry_id=pk(ministry)))
    record_created(session, user)
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
        session.add(RecommendationProvision(recommendation_id=pk(rec), provision_key=key))
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
        session.add(CommitmentSupport(commitment_id=pk(commitment), ministry_id=pk(ministry)))
    for rec in recommendations or []:
        session.add(
            CommitmentRecommendation(commitment_id=pk(commitment), recommendation_id=pk(rec))
        )
    session.commit()
    # Written directly, as a bulk load writes rows: the kept tables (its figures row,
    # its timeline's rows) are rebuilt for it.
    refresh_latest(session, [pk(commitment)])
    session.commit()
    return commitment


def record_created(
    session: Session, *rows: Ministry | Commitment | User | WebhookSubscription
) -> None:
    """Append the creation events the API would have written for these factory rows.

    Verification compares every ministry, commitment, user and webhook subscription with
    its events: a test that expects the chain to verify over factory ministries and
    commitments records them first (``make_user`` and ``make_webhook`` record theirs).
    Secrets stay out, as the services leave them out.
    """
    from vpitracker.audit import service as audit_service
    from vpitracker.commitments import repository as commitments_repository
    from vpitracker.users import repository as users_repository
    from vpitracker.vocab import EntityType

    session.flush()
    for row in rows:
        assert row.id is not None
        entity_type = EntityType.ministry
        data = audit_service.snapshot(row)
        if isinstance(row, Commitment):
            entity_type = EntityType.commitment
            recs, support = commitments_repository.links(session, [row.id])
            data |= {"recommendation_ids": recs[row.id], "supporting_ministry_ids": support[row.id]}
        elif isinstance(row, User):
            entity_type = EntityType.user
            data = audit_service.snapshot(row, exclude=frozenset({"password_hash"}))
            data["ministry_ids"] = users_repository.ministry_ids_by_user(session, [row.id])[row.id]
        elif isinstance(row, WebhookSubscription):
            entity_type = EntityType.webhook_subscription
            data = audit_service.snapshot(
                row, exclude=frozenset({"secret_encrypted", "lease_until"})
            )
            data |= {name: json.loads(data[name]) for name in ("events", "ministry_ids")}
        audit_service.record(
            session, None, f"{entity_type.value}.created", entity_type, row.id, data
        )
    session.commit()


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
    """A status update row written directly (no audit event; the newest-update cache is
    rebuilt as after a bulk load): for derived-state tests."""
    update = StatusUpdate(
        commitment_id=pk(commitment),
        ministry_id=fields.pop("ministry_id", commitment.lead_ministry_id),
        status=status,
        progress_percent=progress,
        summary=fields.pop("summary", "Progress report"),
        reported_by=pk(by),
        reported_at=at,
        **fields,
    )
    session.add(update)
    session.commit()
    refresh_latest(session, [update.commitment_id])
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
        commitment_id=pk(commitment),
        verdict=verdict,
        assessed_status=assessed_status,
        rationale=fields.pop("rationale", "The alliance's view"),
        assessed_by=pk(by),
        assessed_at=at,
        **fields,
    )
    session.add(assessment)
    session.commit()
    refresh_latest(session, [assessment.commitment_id])
    session.commit()
    return assessment


def make_provision(session: Session, **fields: Any) -> Provision:
    values: dict[str, Any] = {
        "key": unique("TEST-"),
        "instrument": "untoc",
        "article": "99",
        "title": unique("Provision "),
        "cluster": None,
    }
    values.update(fields)
    provision = Provision(**values)
    session.add(provision)
    session.commit()
    return provision


def make_api_key(session: Session, creator: User) -> str:
    """A read-only API key created by ``creator``; returns its secret."""
    from vpitracker.apikeys import service as apikeys_service
    from vpitracker.kernel.credentials import actor_for_user

    _, secret = apikeys_service.create(session, actor_for_user(session, creator), unique("key "))
    session.commit()
    return secret


def make_webhook(
    session: Session, creator: User | None = None, **fields: Any
) -> WebhookSubscription:
    """A subscription to ``ping`` events at a public address; its secret is not kept."""
    from tests.conftest import TEST_SECRET
    from vpitracker.notifications import signing

    values: dict[str, Any] = {
        "url": "https://93.184.215.14/in",
        "events": '["ping"]',
        "secret_encrypted": signing.encrypt(TEST_SECRET, signing.new_secret()),
        "created_by": (creator or make_user(session, Role.secretariat)).id,
    }
    values.update(fields)
    subscription = WebhookSubscription(**values)
    session.add(subscription)
    session.commit()
    record_created(session, subscription)
    return subscription


def status_update_body(**fields: Any) -> dict[str, Any]:
    """A valid ``POST /v1/commitments/{id}/status-updates`` body."""
    body: dict[str, Any] = {
        "status": "in_progress",
        "progress_percent": 40,
        "summary": "The bill is with the Attorney General",
    }
    body.update(fields)
    return body


def assessment_body(**fields: Any) -> dict[str, Any]:
    """A valid ``POST /v1/commitments/{id}/assessments`` body."""
    body: dict[str, Any] = {
        "verdict": "agrees",
        "assessed_status": "in_progress",
        "rationale": "Member organizations confirm the draft exists",
    }
    body.update(fields)
    return body


# The helpers that lived here before the split by purpose, still importable from here so
# tests written against the old module keep working; new code imports the module itself.
_MOVED = {
    **dict.fromkeys(
        (
            "BAD_CREDENTIALS",
            "NON_SECRETARIAT",
            "auth",
            "bad_auth",
            "forged_token",
            "headers_as",
            "token_for",
        ),
        "tests.credentials",
    ),
    **dict.fromkeys(
        ("assert_unchanged", "last_event", "problem", "row_counts"), "tests.assertions"
    ),
    **dict.fromkeys(("SCENARIO_PROVISIONS", "Scenario", "make_scenario"), "tests.scenarios"),
}


def __getattr__(name: str) -> Any:
    if name not in _MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_MOVED[name]), name)
