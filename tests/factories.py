"""Plain factory functions: rows written directly, tokens and headers for HTTP calls."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from httpx import Response
from jose import jwt
from sqlalchemy import func
from sqlmodel import Session, SQLModel, select

from vpitracker.auth import tokens
from vpitracker.auth.passwords import hash_password
from vpitracker.commitments.service import refresh_latest
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
    """A status update row written directly (no audit event; the newest-update cache is
    rebuilt as after a bulk load): for derived-state tests."""
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
    refresh_latest(session, [assessment.commitment_id])
    session.commit()
    return assessment


def token_for(settings: Settings, user: User) -> str:
    assert user.id is not None
    token, _ = tokens.issue(
        settings, user_id=user.id, role=user.role, credential_version=user.credential_version
    )
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
        "cv": 1,
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


# --- Seeded random scenarios: dashboards' figures, reports and statement counts ---

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


def last_event(session: Session) -> AuditEvent:
    """The newest audit event."""
    event = session.exec(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()  # type: ignore[union-attr]
    assert event is not None, "no audit event"
    return event


def assert_unchanged(session: Session, row: SQLModel, **expected: Any) -> None:
    """Reload ``row`` and check it still has ``expected`` values (and its first version)."""
    session.refresh(row)
    for name, value in {"version": 1, **expected}.items():
        assert getattr(row, name) == value, f"{name}: {getattr(row, name)!r} != {value!r}"
