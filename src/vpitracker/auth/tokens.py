"""JWT issue and verification. The only module that imports ``jose``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from jose import JWTError, jwt

from vpitracker.config import Settings
from vpitracker.models import utcnow


class InvalidToken(Exception):
    pass


@dataclass(frozen=True)
class Claims:
    subject: int
    role: str


def _signing_key(settings: Settings) -> str:
    if settings.jwt_algorithm.startswith("HS"):
        return settings.secret_key
    assert settings.jwt_private_key is not None
    return settings.jwt_private_key


def _verifying_key(settings: Settings) -> str:
    if settings.jwt_algorithm.startswith("HS"):
        return settings.secret_key
    assert settings.jwt_public_key is not None
    return settings.jwt_public_key


def issue(settings: Settings, *, user_id: int, role: str) -> tuple[str, int]:
    """A signed access token and its lifetime in seconds."""
    now = utcnow()
    lifetime = settings.access_token_expire_minutes * 60
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": str(user_id),
        "role": role,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=lifetime)).timestamp()),
    }
    token = jwt.encode(claims, _signing_key(settings), algorithm=settings.jwt_algorithm)
    return str(token), lifetime


def decode(settings: Settings, token: str) -> Claims:
    """Verify signature (pinned algorithm), iss, aud, exp, nbf and sub."""
    try:
        claims = jwt.decode(
            token,
            _verifying_key(settings),
            algorithms=[settings.jwt_algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={
                "require_exp": True,
                "require_sub": True,
                "require_iss": True,
                "require_aud": True,
                "require_iat": True,
            },
        )
    except (JWTError, ValueError, TypeError) as exc:
        raise InvalidToken(str(exc)) from exc
    sub, role = claims.get("sub"), claims.get("role")
    if not isinstance(sub, str) or not sub.isdigit() or not isinstance(role, str):
        raise InvalidToken("sub and role claims are required")
    return Claims(subject=int(sub), role=role)
