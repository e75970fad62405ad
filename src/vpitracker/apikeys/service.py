"""Read-only API keys for dashboards: shown once, stored hashed, revocable."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from vpitracker.audit import service as audit
from vpitracker.auth.actor import Actor
from vpitracker.errors import NotFound, Unauthorized
from vpitracker.jsonutil import iso_z
from vpitracker.models import ApiKey, User, utcnow
from vpitracker.pagination import PageRequest, paginate
from vpitracker.vocab import EntityType, Role

PREFIX = "vpi_"
# last_used_at is refreshed at most this often, so reads stay (nearly) write-free.
_TOUCH_EVERY = timedelta(minutes=5)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create(session: Session, actor: Actor, name: str) -> tuple[ApiKey, str]:
    """A new key and its secret (the only time the secret is seen)."""
    secret = PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(name=name, prefix=secret[:12], key_hash=_digest(secret), created_by=actor.id)
    session.add(key)
    session.flush()
    assert key.id is not None
    audit.record(
        session,
        actor,
        "api_key.created",
        EntityType.api_key,
        key.id,
        audit.snapshot(key, exclude=frozenset({"key_hash"})),
    )
    return key, secret


def list_keys(session: Session, *, page: PageRequest) -> tuple[list[ApiKey], str | None]:
    sorts = {"id": col(ApiKey.id), "name": col(ApiKey.name)}
    return paginate(
        session, select(ApiKey), page=page, sort_columns=sorts, id_column=col(ApiKey.id)
    )


def revoke(session: Session, actor: Actor, key_id: int) -> ApiKey:
    """Revoke a key; revoking twice changes nothing."""
    key = session.exec(select(ApiKey).where(ApiKey.id == key_id).with_for_update()).first()
    if key is None:
        raise NotFound("No API key with id %(id)s", id=key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.add(key)
        session.flush()
        audit.record(
            session,
            actor,
            "api_key.revoked",
            EntityType.api_key,
            key_id,
            {"revoked_at": {"old": None, "new": iso_z(key.revoked_at)}},
        )
    return key


def authenticate(session: Session, secret: str) -> Actor:
    """The read-only actor behind a key; 401 for unknown or revoked keys.

    A key works only while the person who created it is active: deactivating them
    stops their keys (reactivating them restores the keys that were not revoked).
    """
    if not secret.startswith(PREFIX) or len(secret) > 200:
        raise Unauthorized("Unknown API key")
    found = session.exec(
        select(ApiKey, User.is_active)
        .join(User, col(User.id) == col(ApiKey.created_by))
        .where(ApiKey.key_hash == _digest(secret))
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
