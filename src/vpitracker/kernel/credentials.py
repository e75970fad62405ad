"""How a credential becomes an ``Actor``: bearer tokens, cookie sessions, API keys.

Below every domain (and below ``deps``) so that the request dependencies can
name the caller without importing a domain package; sign-in itself (passwords,
the throttle, the audit of failures) is ``auth.service``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from vpitracker.config import Settings
from vpitracker.errors import Unauthorized
from vpitracker.kernel import tokens
from vpitracker.kernel.actor import Actor
from vpitracker.models import ApiKey, User, UserMinistry, table_of, utcnow
from vpitracker.vocab import Role

API_KEY_PREFIX = "vpi_"
# last_used_at is refreshed at most this often, so reads stay (nearly) write-free.
_TOUCH_EVERY = timedelta(minutes=5)


def api_key_digest(secret: str) -> str:
    """What is stored of an API key: its SHA-256, never the secret."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _ministry_ids(session: Session, user_id: int) -> list[int]:
    stmt = (
        select(UserMinistry.ministry_id)
        .where(UserMinistry.user_id == user_id)
        .order_by(col(UserMinistry.ministry_id))
    )
    return list(session.exec(stmt).all())


def actor_for_user(session: Session, user: User) -> Actor:
    assert user.id is not None
    return Actor(
        kind="user",
        id=user.id,
        role=Role(user.role),
        ministry_ids=frozenset(_ministry_ids(session, user.id)),
        email=user.email,
    )


# Built once: every signed-in request runs it, and building a select costs more
# Python than running this one. Plain table columns, not the ORM entity or its
# attributes: the row is only read, so it runs on the session's connection with
# no ORM compilation or execution state.
_USER = table_of(User)
_USER_MINISTRY = table_of(UserMinistry)
_USER_AND_MINISTRIES = (
    sa_select(
        _USER.c.id,
        _USER.c.email,
        _USER.c.role,
        _USER.c.is_active,
        _USER.c.credential_version,
        _USER.c.full_name,
        _USER.c.language,
        _USER_MINISTRY.c.ministry_id,
    )
    .outerjoin(_USER_MINISTRY, _USER_MINISTRY.c.user_id == _USER.c.id)
    .where(_USER.c.id == bindparam("user_id"))
    .order_by(_USER_MINISTRY.c.ministry_id)
)


@dataclass(frozen=True)
class Account:
    """A signed-in user as the pages show them: who acts, their name and language."""

    actor: Actor
    full_name: str
    language: str


def account_for_user_id(session: Session, user_id: int, credential_version: int) -> Account:
    """The user a credential names, if it is still valid: for tokens and cookie sessions.

    Raises Unauthorized when the account is gone or deactivated, or when its
    credential version moved on since the credential was issued (password or role
    changed, deactivated, or "sign out everywhere"). One statement: the account and
    its ministries together (every signed-in request runs it).
    """
    rows = session.connection().execute(_USER_AND_MINISTRIES, {"user_id": user_id}).all()
    user = rows[0] if rows else None
    if user is None or not user.is_active or user.credential_version != credential_version:
        raise Unauthorized("The sign-in is no longer valid: sign in again")
    actor = Actor(
        kind="user",
        id=user.id,
        role=Role(user.role),
        ministry_ids=frozenset(row.ministry_id for row in rows if row.ministry_id is not None),
        email=user.email,
    )
    return Account(actor=actor, full_name=user.full_name, language=user.language)


def actor_for_user_id(session: Session, user_id: int, credential_version: int) -> Actor:
    """``account_for_user_id``'s actor (bearer tokens need no more)."""
    return account_for_user_id(session, user_id, credential_version).actor


def actor_from_token(session: Session, settings: Settings, token: str) -> Actor:
    """The signed-in user behind a bearer token."""
    try:
        claims = tokens.decode(settings, token)
    except tokens.InvalidToken as exc:
        raise Unauthorized("The token is invalid or expired") from exc
    actor = actor_for_user_id(session, claims.subject, claims.credential_version)
    if actor.role.value != claims.role:
        raise Unauthorized("The sign-in is no longer valid: sign in again")
    return actor


def actor_from_api_key(session: Session, secret: str) -> Actor:
    """The read-only actor behind a key; 401 for unknown or revoked keys.

    A key works only while the person who created it is active: deactivating them
    stops their keys (reactivating them restores the keys that were not revoked).
    """
    if not secret.startswith(API_KEY_PREFIX) or len(secret) > 200:
        raise Unauthorized("Unknown API key")
    found = session.exec(
        select(ApiKey, User.is_active)
        .join(User, col(User.id) == col(ApiKey.created_by))
        .where(ApiKey.key_hash == api_key_digest(secret))
    ).first()
    key, creator_active = found if found is not None else (None, False)
    if key is None or key.revoked_at is not None or key.id is None:
        raise Unauthorized("Unknown or revoked API key")
    if not creator_active:
        raise Unauthorized("The API key's creator has been deactivated")
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > _TOUCH_EVERY:
        session.execute(update(ApiKey).where(col(ApiKey.id) == key.id).values(last_used_at=now))
    return Actor(kind="api_key", id=key.id, role=Role.viewer)
