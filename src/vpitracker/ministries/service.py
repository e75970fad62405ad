"""Ministry rules: unique codes, valid parents, audited edits."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import TypeAdapter
from sqlmodel import Session

from vpitracker.audit import service as audit
from vpitracker.audited import archive as archive_record
from vpitracker.errors import Conflict, Invalid
from vpitracker.kernel.actor import Actor
from vpitracker.kernel.filters import MinistryFilters
from vpitracker.ministries import repository
from vpitracker.ministries.schemas import MinistryCreate, MinistryRead, MinistryUpdate
from vpitracker.models import Ministry
from vpitracker.pagination import PageRequest, row_dicts
from vpitracker.records import apply_changes, flush_unique, or_404, patch_changes
from vpitracker.vocab import EntityType


def get(session: Session, ministry_id: int, *, for_update: bool = False) -> Ministry:
    ministry = repository.get(session, ministry_id, for_update=for_update)
    return or_404(ministry, "No ministry with id %(id)s", id=ministry_id)


# One validation of a whole page, from the rows as dicts.
_READS = TypeAdapter(list[MinistryRead])


def list_ministries(
    session: Session, *, filters: MinistryFilters, page: PageRequest
) -> tuple[list[MinistryRead], str | None]:
    rows, next_cursor = repository.list_ministries(session, filters=filters, page=page)
    return _READS.validate_python(row_dicts(rows)), next_cursor


def require_active(session: Session, ids: Iterable[int], *, loc: list[str | int]) -> None:
    """422 unless every id names a ministry that exists and is not archived."""
    wanted = set(ids)
    missing = sorted(wanted - repository.active_ids(session, wanted))
    if missing:
        raise Invalid("Unknown or archived ministry id(s): %(ids)s", loc=loc, ids=missing)


def _check_parent(session: Session, parent_id: int | None, self_id: int | None) -> None:
    if parent_id is None:
        return
    require_active(session, [parent_id], loc=["body", "parent_id"])
    if self_id is not None and (
        parent_id == self_id or self_id in repository.ancestors(session, parent_id)
    ):
        raise Invalid("A ministry cannot be its own ancestor", loc=["body", "parent_id"])


def create(session: Session, actor: Actor, data: MinistryCreate) -> Ministry:
    """Create a ministry (unique code)."""
    if repository.by_code(session, data.code) is not None:
        raise Conflict("A ministry with code %(code)r already exists", code=data.code)
    _check_parent(session, data.parent_id, None)
    ministry = Ministry(**data.model_dump())
    session.add(ministry)
    flush_unique(session, "A ministry with code %(code)r already exists", code=data.code)
    assert ministry.id is not None
    audit.record(
        session,
        actor,
        "ministry.created",
        EntityType.ministry,
        ministry.id,
        audit.snapshot(ministry),
    )
    return ministry


def update(
    session: Session, actor: Actor, ministry_id: int, data: MinistryUpdate, if_match: str | None
) -> Ministry:
    """Apply a PATCH guarded by ``If-Match``."""
    ministry = get(session, ministry_id, for_update=True)
    changes = patch_changes(ministry, if_match, data, not_null=("code", "name", "kind"))
    if "code" in changes and changes["code"] != ministry.code:
        if repository.by_code(session, changes["code"]) is not None:
            raise Conflict("A ministry with code %(code)r already exists", code=changes["code"])
    if "parent_id" in changes:
        _check_parent(session, changes["parent_id"], ministry_id)
    changed = apply_changes(ministry, changes)
    if changed:
        flush_unique(session, "A ministry with that code already exists")
        audit.record(session, actor, "ministry.updated", EntityType.ministry, ministry_id, changed)
    return ministry


def archive(session: Session, actor: Actor, ministry_id: int) -> Ministry:
    """Archive (never delete); archiving twice changes nothing."""
    ministry = get(session, ministry_id, for_update=True)
    archive_record(session, actor, EntityType.ministry, ministry, ministry_id)
    return ministry
