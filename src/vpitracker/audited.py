"""Audited changes every resource's service makes the same way (one floor above ``audit``)."""

from __future__ import annotations

from sqlmodel import Session

from vpitracker.audit import service as audit
from vpitracker.kernel.actor import Actor
from vpitracker.models import Archivable, utcnow
from vpitracker.records import apply_changes
from vpitracker.vocab import EntityType


def archive(
    session: Session, actor: Actor, entity: EntityType, row: Archivable, entity_id: int | str
) -> None:
    """Archive ``row`` (never delete) and audit ``<entity>.archived``; twice changes nothing."""
    if row.archived_at is None:
        changed = apply_changes(row, {"archived_at": utcnow()})
        session.flush()
        audit.record(session, actor, f"{entity.value}.archived", entity, entity_id, changed)
