"""The pages' signed session cookie and its CSRF token.

The cookie is ``base64url(json) "." hex(HMAC-SHA256)`` under a key derived
from ``VPI_SECRET_KEY`` (never the key itself, so a page cookie can never pass
for a JWT or the other way round). It holds the user id (0 before sign-in),
the issue time, a random nonce the CSRF token is derived from, and the
language chosen with the switch. The API reads only ``Authorization`` and
``X-API-Key``; it never looks at this cookie.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, replace
from typing import Any

from vpitracker.config import Environment, Settings

COOKIE_NAME = "vpi_session"
# A signed-in page session lasts a working day; signing in again renews it.
MAX_AGE_SECONDS = 12 * 3600


@dataclass(frozen=True)
class PageSession:
    user_id: int
    issued_at: int
    nonce: str
    lang: str | None = None
    # The user's credential version at sign-in: a password or role change,
    # deactivation or "sign out everywhere" bumps it and ends this session too.
    credential_version: int = 0

    @classmethod
    def anonymous(cls, lang: str | None = None) -> PageSession:
        return cls(
            user_id=0, issued_at=int(time.time()), nonce=secrets.token_urlsafe(18), lang=lang
        )

    def signed_in(self, user_id: int, credential_version: int) -> PageSession:
        """A fresh nonce on sign-in: a token seen before signing in is worthless after."""
        return PageSession(
            user_id=user_id, issued_at=int(time.time()), nonce=secrets.token_urlsafe(18),
            lang=self.lang, credential_version=credential_version,
        )  # fmt: skip

    def with_lang(self, lang: str) -> PageSession:
        return replace(self, lang=lang)


def _key(settings: Settings, purpose: str) -> bytes:
    return hmac.new(
        settings.secret_key.encode(), f"vpitracker web {purpose}".encode(), "sha256"
    ).digest()


def _mac(settings: Settings, payload: bytes) -> str:
    return hmac.new(_key(settings, "session"), payload, hashlib.sha256).hexdigest()


def encode(settings: Settings, page_session: PageSession) -> str:
    body: dict[str, Any] = {
        "u": page_session.user_id,
        "t": page_session.issued_at,
        "n": page_session.nonce,
        "v": page_session.credential_version,
    }
    if page_session.lang:
        body["l"] = page_session.lang
    payload = base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode())
    return f"{payload.decode().rstrip('=')}.{_mac(settings, payload.rstrip(b'='))}"


def decode(settings: Settings, cookie: str | None) -> PageSession | None:
    """The session in a cookie, or None if it is missing, forged, malformed or expired."""
    if not cookie or len(cookie) > 1000 or "." not in cookie:
        return None
    payload, _, mac = cookie.rpartition(".")
    if not hmac.compare_digest(_mac(settings, payload.encode()), mac):
        return None
    try:
        raw: Any = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        page_session = PageSession(
            user_id=int(raw["u"]), issued_at=int(raw["t"]), nonce=str(raw["n"]),
            lang=str(raw["l"]) if "l" in raw else None, credential_version=int(raw["v"]),
        )  # fmt: skip
    except (binascii.Error, ValueError, KeyError, TypeError):
        return None
    if page_session.user_id and time.time() - page_session.issued_at > MAX_AGE_SECONDS:
        return None
    return page_session


def csrf_token(settings: Settings, page_session: PageSession) -> str:
    return hmac.new(
        _key(settings, "csrf"), f"{page_session.user_id}|{page_session.nonce}".encode(), "sha256"
    ).hexdigest()


def csrf_ok(settings: Settings, page_session: PageSession | None, token: str | None) -> bool:
    if page_session is None or not token:
        return False
    return hmac.compare_digest(csrf_token(settings, page_session), token)


def cookie_options(settings: Settings) -> dict[str, Any]:
    return {
        "key": COOKIE_NAME,
        "httponly": True,
        "samesite": "lax",
        "secure": settings.env is not Environment.development,
        "path": "/",
    }
