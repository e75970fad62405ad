"""JWT issue and verification. The only module that imports ``jose``."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

from jose import JWTError, jwt

from vpitracker.config import Settings
from vpitracker.models import utcnow


class InvalidToken(Exception):
    pass


# Account ids are 32-bit integers on PostgreSQL: a larger ``sub`` names nobody.
_MAX_SUBJECT = 2**31 - 1
# Clock skew tolerated on ``iat`` between the issuing and the checking process.
_IAT_LEEWAY_SECONDS = 5


@dataclass(frozen=True)
class Claims:
    subject: int
    role: str
    credential_version: int


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


def issue(
    settings: Settings, *, user_id: int, role: str, credential_version: int
) -> tuple[str, int]:
    """A signed access token and its lifetime in seconds."""
    now = utcnow()
    lifetime = settings.access_token_expire_minutes * 60
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": str(user_id),
        "role": role,
        "cv": credential_version,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=lifetime)).timestamp()),
    }
    token = jwt.encode(claims, _signing_key(settings), algorithm=settings.jwt_algorithm)
    return str(token), lifetime


# Tokens whose signature and claims have been verified, with their ``exp``: every
# signed-in request presents one, and verifying it again is pure CPU. Only valid
# tokens are kept (so only tokens this server's key signed); what can turn a valid
# token invalid with time, its expiry, is checked again on every use, and whether
# its account still holds it is the caller's check in the database, per request.
VERIFIED_TOKENS = 4096


def decode(settings: Settings, token: str) -> Claims:
    """Verify signature (pinned algorithm), iss, aud, exp, nbf, iat, sub and cv."""
    claims, expires = _verified(
        token,
        _verifying_key(settings),
        settings.jwt_algorithm,
        settings.jwt_audience,
        settings.jwt_issuer,
    )
    # As jose checks it (whole seconds, no leeway): a token is valid through its exp second.
    if expires < _now_seconds():
        raise InvalidToken("Signature has expired.")
    return claims


def _now_seconds() -> int:
    return int(time.time())


@lru_cache(maxsize=VERIFIED_TOKENS)
def _verified(
    token: str, key: str, algorithm: str, audience: str, issuer: str
) -> tuple[Claims, int]:
    """``verify``, kept for the tokens it found valid (an invalid one raises: never kept)."""
    return verify(token, key, algorithm, audience, issuer)


def verify(token: str, key: str, algorithm: str, audience: str, issuer: str) -> tuple[Claims, int]:
    """The token's claims and ``exp``, once signature and claims are verified (no cache)."""
    try:
        # No extension is understood, so any critical one makes the token invalid (RFC 7515).
        if "crit" in jwt.get_unverified_header(token):
            raise InvalidToken("critical header extensions are not supported")
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=audience,
            issuer=issuer,
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
    sub, role, cv, iat = (claims.get(k) for k in ("sub", "role", "cv", "iat"))
    if not isinstance(sub, str) or not sub.isdigit() or not isinstance(role, str):
        raise InvalidToken("sub and role claims are required")
    if len(sub) > 10 or int(sub) > _MAX_SUBJECT:
        raise InvalidToken("sub is out of range")
    if not isinstance(cv, int) or isinstance(cv, bool):
        raise InvalidToken("the credential version claim is required")
    if not isinstance(iat, int | float) or iat > utcnow().timestamp() + _IAT_LEEWAY_SECONDS:
        raise InvalidToken("the token was issued in the future")
    return Claims(subject=int(sub), role=role, credential_version=cv), int(claims["exp"])
