"""The event catalogue and how audited writes map onto it."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from vpitracker.vocab import Verdict


class EventType(StrEnum):
    commitment_created = "commitment.created"
    commitment_updated = "commitment.updated"
    status_update_posted = "status_update.posted"
    assessment_posted = "assessment.posted"
    commitment_disputed = "commitment.disputed"
    commitment_replied = "commitment.replied"
    commitment_overdue = "commitment.overdue"
    commitment_stale = "commitment.stale"
    ping = "ping"


# Audit actions that notify; imports of history and every other write do not.
_DIRECT: dict[str, EventType] = {
    "commitment.created": EventType.commitment_created,
    "commitment.updated": EventType.commitment_updated,
    "commitment.archived": EventType.commitment_updated,
    "status_update.posted": EventType.status_update_posted,
    "assessment.posted": EventType.assessment_posted,
}


def types_for(action: str, data: dict[str, Any]) -> list[EventType]:
    """The events one audited action raises (a dispute or a reply raises two)."""
    first = _DIRECT.get(action)
    if first is None:
        return []
    types = [first]
    if first is EventType.assessment_posted and data.get("verdict") == Verdict.disputes.value:
        types.append(EventType.commitment_disputed)
    if first is EventType.status_update_posted and data.get("in_reply_to_assessment_id"):
        types.append(EventType.commitment_replied)
    return types


def parse_list(text: str) -> list[Any]:
    value = json.loads(text)
    assert isinstance(value, list)
    return value
