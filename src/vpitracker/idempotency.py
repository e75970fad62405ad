"""The ``Idempotency-Key`` request dependency of creating POSTs: replay, mismatch, in-flight.

The record is inserted in the request's own transaction before the change, so it
commits (or vanishes) together with it. A concurrent duplicate blocks on the
unique (scope, key) index on PostgreSQL, or on SQLite's single writer, and then
sees the finished record and replays it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, TypeVar

from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from vpitracker.deps import SessionDep, SettingsDep, SignedIn
from vpitracker.errors import Conflict, Invalid
from vpitracker.models import IdempotencyRecord, utcnow

B = TypeVar("B", bound=BaseModel)


# Named in a replayed body (and the Idempotent-Replay-Omitted header) when a secret
# of the first answer is left out: secrets are never stored, so never replayed.
OMITTED = "secret_omitted"


class Replay(Exception):
    def __init__(self, status_code: int, body: object, location: str | None) -> None:
        super().__init__("replay")
        self.status_code = status_code
        self.body = body
        self.location = location

    @property
    def omitted(self) -> list[str]:
        found = self.body.get(OMITTED) if isinstance(self.body, dict) else None
        return [str(f) for f in found] if isinstance(found, list) else []


@dataclass
class Idempotency:
    session: Session
    record: IdempotencyRecord | None

    def created(
        self, response: Response, body: B, location: str, *, secret_fields: tuple[str, ...] = ()
    ) -> B:
        """Answer 201 with ``Location``, remembering the answer for retries.

        ``secret_fields`` are kept out of the remembered answer: a replay has them
        as null and lists them under ``secret_omitted``.
        """
        response.status_code = 201
        response.headers["Location"] = location
        if self.record is not None:
            remembered = body.model_dump(mode="json")
            if secret_fields:
                remembered.update(dict.fromkeys(secret_fields))
                remembered[OMITTED] = list(secret_fields)
            self.record.status_code = 201
            self.record.body = json.dumps(remembered)
            self.record.location = location
            self.session.add(self.record)
            self.session.flush()
        return body


async def _fingerprint(request: Request) -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.url.path}\n".encode())
    digest.update(await request.body())
    return digest.hexdigest()


def _find(session: Session, scope: str, key: str) -> IdempotencyRecord | None:
    stmt = select(IdempotencyRecord).where(
        IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
    )
    return session.exec(stmt).first()


def _answer(existing: IdempotencyRecord, fingerprint: str) -> None:
    if existing.fingerprint != fingerprint:
        raise Invalid(
            "This Idempotency-Key was used with a different request",
            loc=["header", "Idempotency-Key"],
        )
    if existing.status_code is None or existing.body is None:
        raise Conflict("A request with this Idempotency-Key is still in progress")
    raise Replay(existing.status_code, json.loads(existing.body), existing.location)


def idempotency(
    session: SessionDep,
    actor: SignedIn,
    settings: SettingsDep,
    fingerprint: Annotated[str, Depends(_fingerprint)],
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=255,
            description="Retry-safe key: the same key and body replay the first answer",
        ),
    ] = None,
) -> Idempotency:
    if idempotency_key is None:
        return Idempotency(session, None)
    now = utcnow()
    # Purge first, so an expired record of this very key is forgotten, not answered.
    session.execute(
        delete(IdempotencyRecord).where(
            col(IdempotencyRecord.created_at)
            < now - timedelta(hours=settings.idempotency_ttl_hours)
        )
    )
    existing = _find(session, actor.scope, idempotency_key)
    if existing is not None:
        _answer(existing, fingerprint)
    record = IdempotencyRecord(
        scope=actor.scope, key=idempotency_key, fingerprint=fingerprint, created_at=now
    )
    session.add(record)
    try:
        session.flush()
    except IntegrityError:
        # A concurrent request with the same key committed first: answer as it did.
        session.rollback()
        existing = _find(session, actor.scope, idempotency_key)
        if existing is None:
            raise Conflict("A request with this Idempotency-Key is in progress") from None
        _answer(existing, fingerprint)
    return Idempotency(session, record)


IdempotencyDep = Annotated[Idempotency, Depends(idempotency)]
