"""The webhook body an audited post queues is serialized before the chain lock: it must be
exactly the canonical JSON of the payload built from the event (the reference)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import Session

from tests.factories import make_commitment, make_ministry, pk
from vpitracker.jsonutil import canonical, iso_z
from vpitracker.models import AuditEvent
from vpitracker.outbox import service as outbox
from vpitracker.outbox.events import types_for

AWKWARD: list[dict[str, Any]] = [
    {"summary": 'Wizara — "Interior" \\ ya Ndani ✓ ü 中', "progress_percent": 40},
    {"nested": {"b": [1, 2.5, None, True], "a": {"z": "", "y": "\n\t"}}, "n": -0.0},
    {"big": 2**62, "small": 1e-7, "list": [{"k": "v"}, []]},
]


def _reference(event_type: str, event: AuditEvent, at: datetime, **payload: Any) -> str:
    """``body`` as it was written under the lock: canonical JSON of the payload dict."""
    data = {"seq": event.seq, "hash": event.hash, "action": event.action, **payload}
    return canonical({"type": event_type, "timestamp": iso_z(at), "data": data})


@pytest.mark.parametrize("data", AWKWARD)
@pytest.mark.parametrize(
    ("action", "entity_type", "extra"),
    [
        ("status_update.posted", "status_update", {"in_reply_to_assessment_id": 3}),
        ("assessment.posted", "assessment", {"verdict": "disputes"}),
    ],
)
def test_the_body_made_before_the_lock_is_the_payload_as_canonical_json(
    session: Session, data: dict[str, Any], action: str, entity_type: str, extra: dict[str, Any]
) -> None:
    lead, other = make_ministry(session), make_ministry(session)
    commitment = make_commitment(session, lead=lead, supporting=[other], code="Ç-“9”")
    entity = {**data, **extra, "commitment_id": pk(commitment)}
    data_json = canonical(entity)
    ministries = [pk(other), pk(lead), pk(other)]  # unsorted, repeated: as a caller may pass
    notice = outbox.prepare(session, action, entity_type, "41", data_json, ministry_ids=ministries)
    assert notice is not None
    types = types_for(action, entity)
    assert len(types) == 2  # a reply, a dispute: every type's body
    at = datetime(2026, 12, 4, 1, 2, 3, 456789, tzinfo=UTC)
    event = AuditEvent(
        seq=2**31 - 1,
        at=at,
        actor_type="user",
        action=action,
        entity_type=entity_type,
        entity_id="41",
        data=data_json,
        prev_hash="cd" * 32,
        hash="ab" * 32,
    )
    for event_type in types:
        made = notice.body(event_type, event, at)
        assert made == _reference(
            event_type.value,
            event,
            at,
            entity_type=entity_type,
            entity_id=41,
            commitment_id=pk(commitment),
            commitment_code=commitment.code,
            ministry_ids=sorted({pk(lead), pk(other)}),
            entity=json.loads(data_json),
        )
