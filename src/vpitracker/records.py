"""Edits and archiving shared by every editable record."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from vpitracker.errors import Conflict
from vpitracker.jsonutil import plain
from vpitracker.models import Versioned, utcnow


def apply_changes(row: Versioned, changes: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Set the changed fields; returns ``{field: {old, new}}`` and bumps the version."""
    changed: dict[str, dict[str, Any]] = {}
    for field, new in changes.items():
        old = getattr(row, field)
        if old != new:
            changed[field] = {"old": plain(old), "new": plain(new)}
            setattr(row, field, new)
    if changed:
        row.version += 1
        row.updated_at = utcnow()
    return changed


def flush_unique(session: Session, message: str, **params: Any) -> None:
    """Flush, turning a unique-index race into 409 with ``message`` (a detail template)."""
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(message, **params) from exc
