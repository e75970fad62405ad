"""Read-only API keys for dashboards: shown once, stored hashed, revocable."""

from __future__ import annotations

import secrets

from sqlmodel import Session, col, select

from vpitracker.audit import service as audit
from vpitracker.errors import NotFound
from vpitracker.jsonutil import iso_z
from vpitracker.kernel.actor import Actor
from vpitracker.kernel.credentials import API_KEY_PREFIX, api_key_digest
from vpitracker.models import ApiKey, utcnow
from vpitracker.pagination import PageRequest, paginate
from vpitracker.vocab import EntityType


def create(session: Session, actor: Actor, name: str) -> tuple[ApiKey, str]:
    """A new key and its secret (the only time the secret is seen)."""
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        name=name, prefix=secret[:12], key_hash=api_key_digest(secret), created_by=actor.id
    )
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
