"""Write notifiable events to the outbox, in the caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from vpitracker.db import Bound
from vpitracker.jsonutil import canonical, iso_z, quoted
from vpitracker.models import AuditEvent, Commitment, OutboxEvent, utcnow
from vpitracker.outbox import repository
from vpitracker.outbox.events import EventType, types_for
from vpitracker.vocab import PUBLIC_ENTITY_TYPES


def body(event_type: EventType, data: dict[str, Any]) -> str:
    """The exact webhook body: ``{"type", "timestamp", "data"}``."""
    return canonical({"type": event_type.value, "timestamp": iso_z(utcnow()), "data": data})


def _fields(
    event_type: EventType,
    body_text: str,
    *,
    commitment_id: int | None = None,
    ministry_ids: list[int] | None = None,
    subscription_id: int | None = None,
    audit_seq: int | None = None,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """One outbox row's columns (``add`` and ``queued`` write the same rows)."""
    return {
        "type": event_type.value,
        "audit_seq": audit_seq,
        "commitment_id": commitment_id,
        "ministry_ids": json.dumps(sorted(set(ministry_ids or []))),
        "subscription_id": subscription_id,
        "body": body_text,
        "created_at": created_at or utcnow(),
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
            body(event_type, data),
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
    """What an audited write will queue, read and serialized before the chain lock
    (``prepare``); ``queued`` adds the event's seq and hash under it.

    The webhook body is ``body(type, payload)``, canonical JSON whose keys sort as
    data (action, commitment_code, commitment_id, entity, entity_id, entity_type, hash,
    ministry_ids, seq), timestamp, type: everything up to the hash is ``head``, the
    ministries and the seq's key ``tail``, so under the lock only the hash, the seq,
    the time and the type are written in. ``entity`` is the event's canonical data
    text as is (canonical JSON read back and written again is the same text).
    """

    types: list[EventType]
    commitment_id: int
    ministry_ids: list[int]
    head: str
    tail: str

    def body(self, event_type: EventType, event: AuditEvent, at: datetime) -> str:
        data = f"{self.head}{quoted(event.hash)}{self.tail}{event.seq}}}"
        kind = quoted(event_type.value)
        return f'{{"data":{data},"timestamp":{quoted(iso_z(at))},"type":{kind}}}'


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
    Everything here is read and serialized before the chain lock is taken.
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
    ministries = sorted(
        set(
            [commitment.lead_ministry_id, *repository.supporting(session, commitment_id)]
            if ministry_ids is None
            else ministry_ids
        )
    )
    head = (
        f'{{"action":{quoted(action)},"commitment_code":{quoted(commitment.code)},'
        f'"commitment_id":{commitment_id},"entity":{data_json},"entity_id":{record_id},'
        f'"entity_type":{quoted(entity_type)},"hash":'
    )
    tail = f',"ministry_ids":{canonical(ministries)},"seq":'
    return Notice(types, commitment_id, ministries, head, tail)


def append_values(notice: Notice) -> dict[str, Any]:
    """``notice`` as PostgreSQL's ``audit_append`` writes its rows under the chain lock:
    each body is ``Notice.body``'s text, with the event's hash, seq and time (also the
    rows' ``created_at``) written in there."""
    columns = _fields(notice.types[0], "", ministry_ids=notice.ministry_ids)
    return {
        "notice_types": [t.value for t in notice.types],
        "notice_kinds": [quoted(t.value) for t in notice.types],
        "notice_head": notice.head,
        "notice_tail": notice.tail,
        "notice_commitment_id": notice.commitment_id,
        "notice_ministry_ids": columns["ministry_ids"],
    }


def queued(notice: Notice, event: AuditEvent) -> Bound:
    """The INSERT of ``notice``'s rows once ``event`` is on the chain (one per event type)."""
    now = utcnow()
    return repository.insert_rows(
        [
            _fields(
                event_type,
                notice.body(event_type, event, now),
                commitment_id=notice.commitment_id,
                ministry_ids=notice.ministry_ids,
                audit_seq=event.seq,
                created_at=now,
            )
            for event_type in notice.types
        ]
    )
