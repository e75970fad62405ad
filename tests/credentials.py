"""Credentials for HTTP calls: signed tokens, headers per kind of caller, failing ones."""

from __future__ import annotations

from typing import Any

from jose import jwt
from sqlmodel import Session

from tests.factories import make_api_key, make_ministry, make_user
from vpitracker.config import Settings
from vpitracker.kernel import tokens
from vpitracker.models import User, utcnow
from vpitracker.vocab import Role


def token_for(settings: Settings, user: User) -> str:
    assert user.id is not None
    token, _ = tokens.issue(
        settings, user_id=user.id, role=user.role, credential_version=user.credential_version
    )
    return token


def auth(settings: Settings, user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(settings, user)}"}


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


# Callers the secretariat-only operations must refuse with 403.
NON_SECRETARIAT = ("alliance_member", "government_officer", "viewer", "api_key")


def headers_as(session: Session, settings: Settings, who: str) -> dict[str, str]:
    """Credentials of a new caller: a user with role ``who`` (officers get a ministry), or a key."""
    if who == "api_key":
        return {"X-API-Key": make_api_key(session, make_user(session, Role.secretariat))}
    role = Role(who)
    ministries = [make_ministry(session)] if role is Role.government_officer else None
    return auth(settings, make_user(session, role, ministries=ministries))
