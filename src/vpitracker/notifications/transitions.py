"""Time-based events: a commitment going overdue or stale, announced once per occurrence.

An occurrence is keyed by what caused it (the due date for overdue; the day the
silence began for stale), stored in ``notified_transition``: a worker that was
down catches up at its next scan, and a restart never announces one twice.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from vpitracker.config import Settings
from vpitracker.db import unit_of_work
from vpitracker.jsonutil import plain
from vpitracker.models import NotifiedTransition, utcnow
from vpitracker.notifications import repository
from vpitracker.notifications.repository import OpenCommitment
from vpitracker.outbox import service as outbox
from vpitracker.outbox.events import EventType

SCAN_LOCK = 0x5650_4902


def _occurrences(row: OpenCommitment) -> list[tuple[EventType, str]]:
    found = []
    if row.overdue:
        found.append((EventType.commitment_overdue, row.due_date.isoformat()))
    if row.stale:
        since = row.last_reported_at.date() if row.last_reported_at else row.committed_on
        found.append((EventType.commitment_stale, since.isoformat()))
    return found


def scan(engine: Engine, settings: Settings) -> int:
    """Queue the overdue/stale events not announced yet; purge old outbox rows."""
    with unit_of_work(engine) as session:
        if not repository.try_lock(session, SCAN_LOCK):
            return 0
        rows = repository.commitment_states(session, stale_after_days=settings.stale_after_days)
        kinds = [EventType.commitment_overdue.value, EventType.commitment_stale.value]
        seen = repository.notified(session, kinds)
        supporting = repository.all_supporting(session)
        head = outbox.head_data(session)
        queued = 0
        for row in rows:
            for event_type, occurrence in _occurrences(row):
                if (row.id, event_type.value, occurrence) in seen:
                    continue
                ministries = sorted({row.lead_ministry_id, *supporting.get(row.id, [])})
                session.add(
                    NotifiedTransition(
                        commitment_id=row.id, kind=event_type.value, occurrence=occurrence
                    )
                )
                outbox.add(
                    session,
                    event_type,
                    {
                        **head,
                        "commitment_id": row.id,
                        "commitment_code": row.code,
                        "ministry_ids": ministries,
                        "entity": {
                            "id": row.id,
                            "code": row.code,
                            "title": row.title,
                            "due_date": plain(row.due_date),
                            "reported_status": row.reported_status,
                            "last_reported_at": plain(row.last_reported_at),
                            "since": occurrence,
                        },
                    },
                    commitment_id=row.id,
                    ministry_ids=ministries,
                )
                queued += 1
        repository.purge(session, before=utcnow() - timedelta(days=settings.outbox_retention_days))
        return queued
