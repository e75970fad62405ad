"""Plain factory functions: rows written directly, tokens and headers for HTTP calls."""

from __future__ import annotations

import itertools
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from httpx import Response
from jose import jwt
from sqlalchemy import func
from sqlmodel import Session, SQLModel, select

from vpitracker.auth import tokens
from vpitracker.auth.passwords import hash_password
from vpitracker.config import Settings
from vpitracker.models import (
    Assessment,
    AuditEvent,
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


# --- HTTP suite helpers: forged tokens, failing credentials, row counts, problems ---


def forged_token(settings: Settings, **claims: Any) -> str:
    """A JWT signed like the app's own; ``claims`` override the defaults (None drops one)."""
    now = int(utcnow().timestamp())
    values: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": "1",
        "role": Role.secretariat.value,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    values.update(claims)
    payload = {k: v for k, v in values.items() if v is not None}
    return str(jwt.encode(payload, settings.secret_key, algorithm=settings.jwt_algorithm))


# Every way a bearer credential can fail; each must answer 401 with WWW-Authenticate.
BAD_CREDENTIALS = ("missing", "garbage", "expired", "wrong_audience", "wrong_issuer", "wrong_key")


def bad_auth(settings: Settings, user: User, kind: str) -> dict[str, str]:
    """Headers carrying a credential of ``kind`` that is wrong in exactly one way for ``user``."""
    sub = str(user.id)
    past = int(utcnow().timestamp()) - 3600
    tokens_by_kind = {
        "garbage": "not.a.jwt",
        "expired": forged_token(settings, sub=sub, role=user.role, iat=past, nbf=past, exp=past),
        "wrong_audience": forged_token(settings, sub=sub, role=user.role, aud="someone-else"),
        "wrong_issuer": forged_token(settings, sub=sub, role=user.role, iss="https://evil.example"),
        "wrong_key": forged_token(
            settings.model_copy(update={"secret_key": "another-secret-key-0123456789-abcdefgh"}),
            sub=sub,
            role=user.role,
        ),
    }
    if kind == "missing":
        return {}
    return {"Authorization": f"Bearer {tokens_by_kind[kind]}"}


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
    from vpitracker.auth.service import actor_for_user

    _, secret = apikeys_service.create(session, actor_for_user(session, creator), unique("key "))
    session.commit()
    return secret


def row_counts(session: Session, *models: type[SQLModel]) -> tuple[int, ...]:
    """Rows in each table of ``models`` and, last, in audit_event."""
    return tuple(
        session.exec(select(func.count()).select_from(model)).one()
        for model in (*models, AuditEvent)
    )


def problem(response: Response, status: int) -> dict[str, Any]:
    """The RFC 9457 body of ``response``, after checking its status, media type and shape."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    assert response.headers["content-type"] == "application/problem+json", response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status, body
    for field in ("type", "title", "detail"):
        assert isinstance(body[field], str), body
        assert body[field].strip(), body
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), response.headers
    return body


# Callers the secretariat-only operations must refuse with 403.
NON_SECRETARIAT = ("alliance_member", "government_officer", "viewer", "api_key")


def headers_as(session: Session, settings: Settings, who: str) -> dict[str, str]:
    """Credentials of a new caller: a user with role ``who`` (officers get a ministry), or a key."""
    if who == "api_key":
        return {"X-API-Key": make_api_key(session, make_user(session, Role.secretariat))}
    role = Role(who)
    ministries = [make_ministry(session)] if role is Role.government_officer else None
    return auth(settings, make_user(session, role, ministries=ministries))


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
