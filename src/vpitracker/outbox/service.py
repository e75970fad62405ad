"""Write notifiable events to the outbox, in the caller's transaction."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session

from vpitracker.jsonutil import canonical, iso_z
from vpitracker.models import AuditEvent, Commitment, OutboxEvent, utcnow
from vpitracker.outbox import repository
from vpitracker.outbox.events import EventType, types_for
from vpitracker.vocab import PUBLIC_ENTITY_TYPES


def body(event_type: EventType, data: dict[str, Any]) -> str:
    """The exact webhook body: ``{"type", "timestamp", "data"}``."""
    return canonical({"type": event_type.value, "timestamp": iso_z(utcnow()), "data": data})


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
        type=event_type.value,
        audit_seq=audit_seq,
        commitment_id=commitment_id,
        ministry_ids=json.dumps(sorted(set(ministry_ids or []))),
        subscription_id=subscription_id,
        body=body(event_type, data),
    )
    session.add(row)
    return row


def head_data(session: Session) -> dict[str, Any]:
    """The chain head, for events no audit event stands behind (time-based, ping)."""
    head = repository.chain_head(session)
    return {"seq": head[0] if head else 0, "hash": head[1] if head else "0" * 64}


def from_audit(session: Session, event: AuditEvent) -> None:
    """Queue the events an audited write raises (none for most writes).

    Only changes to the public record notify: never one to a user, key or subscription.
    """
    if event.entity_type not in PUBLIC_ENTITY_TYPES:
        return
    data = json.loads(event.data)
    types = types_for(event.action, data)
    if not types:
        return
    entity_id = int(event.entity_id)
    commitment_id = entity_id if event.entity_type == "commitment" else int(data["commitment_id"])
    commitment = session.get(Commitment, commitment_id)
    assert commitment is not None
    ministries = [commitment.lead_ministry_id, *repository.supporting(session, commitment_id)]
    payload: dict[str, Any] = {
        "seq": event.seq,
        "hash": event.hash,
        "action": event.action,
        "entity_type": event.entity_type,
        "entity_id": entity_id,
        "commitment_id": commitment_id,
        "commitment_code": commitment.code,
        "ministry_ids": sorted(set(ministries)),
        "entity": data,
    }
    for event_type in types:
        add(
            session,
            event_type,
            payload,
            commitment_id=commitment_id,
            ministry_ids=ministries,
            audit_seq=event.seq,
        )
