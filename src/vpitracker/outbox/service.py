"""Write notifiable events to the outbox, in the caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from vpitracker.db import Bound
from vpitracker.jsonutil import canonical, iso_z
from vpitracker.models import AuditEvent, Commitment, OutboxEvent, utcnow
from vpitracker.outbox import repository
from vpitracker.outbox.events import EventType, types_for
from vpitracker.vocab import PUBLIC_ENTITY_TYPES


def body(event_type: EventType, data: dict[str, Any]) -> str:
    """The exact webhook body: ``{"type", "timestamp", "data"}``."""
    return canonical({"type": event_type.value, "timestamp": iso_z(utcnow()), "data": data})


def _fields(
    event_type: EventType,
    data: dict[str, Any],
    *,
    commitment_id: int | None = None,
    ministry_ids: list[int] | None = None,
    subscription_id: int | None = None,
    audit_seq: int | None = None,
) -> dict[str, Any]:
    """One outbox row's columns (``add`` and ``queued`` write the same rows)."""
    return {
        "type": event_type.value,
        "audit_seq": audit_seq,
        "commitment_id": commitment_id,
        "ministry_ids": json.dumps(sorted(set(ministry_ids or []))),
        "subscription_id": subscription_id,
        "body": body(event_type, data),
        "created_at": utcnow(),
    }


def add(
    session: Session,
    event_type: EventType,
    data: dict[str, Any],
    *,
    commitment_id: int | None = None,
    ministry_ids: list[int] | None = None,
    subscription_id: int | None = None,
    audit_seq: int | None = None,
) -> OutboxEvent:
    row = OutboxEvent(
        **_fields(
            event_type,
            data,
            commitment_id=commitment_id,
            ministry_ids=ministry_ids,
            subscription_id=subscription_id,
            audit_seq=audit_seq,
        )
    )
    session.add(row)
    return row


def head_data(session: Session) -> dict[str, Any]:
    """The chain head, for events no audit event stands behind (time-based, ping)."""
    head = repository.chain_head(session)
    return {"seq": head[0] if head else 0, "hash": head[1] if head else "0" * 64}


@dataclass(frozen=True)
class Notice:
    """What an audited write will queue, read before the chain lock (``prepare``)."""

    types: list[EventType]
    entity_type: str
    entity_id: int
    commitment_id: int
    commitment_code: str
    ministry_ids: list[int]
    data: dict[str, Any]


def prepare(
    session: Session,
    action: str,
    entity_type: str,
    entity_id: str,
    data_json: str,
    *,
    ministry_ids: Collection[int] | None = None,
) -> Notice | None:
    """The events an audited write raises (None for most writes), without its seq and hash.

    Only changes to the public record notify: never one to a user, key or subscription.
    ``data_json`` is the event's canonical data; ``ministry_ids``, the commitment's lead
    and supporting ministries when the caller has just read them (else they are read).
    Everything here is read before the chain lock is taken; ``queued`` adds the
    event's seq and hash under it.
    """
    if entity_type not in PUBLIC_ENTITY_TYPES:
        return None
    data = json.loads(data_json)
    types = types_for(action, data)
    if not types:
        return None
    record_id = int(entity_id)
    commitment_id = record_id if entity_type == "commitment" else int(data["commitment_id"])
    commitment = session.get(Commitment, commitment_id)
    assert commitment is not None
    ministries = (
        [commitment.lead_ministry_id, *repository.supporting(session, commitment_id)]
        if ministry_ids is None
        else ministry_ids
    )
    return Notice(
        types=types,
        entity_type=entity_type,
        entity_id=record_id,
        commitment_id=commitment_id,
        commitment_code=commitment.code,
        ministry_ids=sorted(set(ministries)),
        data=data,
    )


def queued(notice: Notice, event: AuditEvent) -> Bound:
    """The INSERT of ``notice``'s rows once ``event`` is on the chain (one per event type)."""
    payload: dict[str, Any] = {
        "seq": event.seq,
        "hash": event.hash,
        "action": event.action,
        "entity_type": notice.entity_type,
        "entity_id": notice.entity_id,
        "commitment_id": notice.commitment_id,
        "commitment_code": notice.commitment_code,
        "ministry_ids": notice.ministry_ids,
        "entity": notice.data,
    }
    return repository.insert_rows(
        [
            _fields(
                event_type,
                payload,
                commitment_id=notice.commitment_id,
                ministry_ids=notice.ministry_ids,
                audit_seq=event.seq,
            )
            for event_type in notice.types
        ]
    )
