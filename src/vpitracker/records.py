"""Reads, edits and archiving shared by every editable record (services' floor).

A repository's ``get`` is ``by_key(session, Thing, thing_id, for_update=...)``; a
service's is ``or_404(repository.get(...), "No thing with id %(id)s", ...)``,
its PATCH starts with ``patch_changes`` and ends with ``apply_changes``: the
rules each resource adds stand between them. Archiving, which audits, is in
``audited`` (this module stays below ``audit``, which notifications import).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, SQLColumnExpression, func, inspect, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, select

from vpitracker.errors import Conflict, Invalid, NotFound
from vpitracker.jsonutil import plain
from vpitracker.models import Versioned, utcnow
from vpitracker.versioning import check_if_match

R = TypeVar("R")
M = TypeVar("M", bound=SQLModel)


def by_key(session: Session, model: type[M], key: object, *, for_update: bool = False) -> M | None:
    """The ``model`` row whose primary key is ``key`` (row-locked ``for_update``), or None."""
    (primary_key,) = inspect(model).primary_key
    stmt = select(model).where(primary_key == key)
    if for_update:
        stmt = stmt.with_for_update()
    return session.exec(stmt).first()


def matches(q: str, *columns: SQLColumnExpression[str]) -> ColumnElement[bool]:
    """A list's ``q``: any of ``columns`` contains ``q``, case-insensitively and literally."""
    needle = q.lower()
    return or_(*(func.lower(column).contains(needle, autoescape=True) for column in columns))


def or_404(row: R | None, message: str, **params: Any) -> R:
    """``row``, or 404 with ``message`` (a detail template) when there is none."""
    if row is None:
        raise NotFound(message, **params)
    return row


def patch_changes(
    row: Versioned, if_match: str | None, data: BaseModel, *, not_null: Iterable[str]
) -> dict[str, Any]:
    """The fields a PATCH sets (``exclude_unset``), checked before any rule reads them.

    428/412 unless ``If-Match`` names ``row``'s version; 422 when a field of
    ``not_null`` is sent as null.
    """
    check_if_match(if_match, row.version)
    changes = data.model_dump(exclude_unset=True)
    for field in not_null:
        if field in changes and changes[field] is None:
            raise Invalid("%(field)s cannot be null", loc=["body", field], field=field)
    return changes


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
