"""Plan a ministries file: codes, parents (no cycles, parents first) and edits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from sqlmodel import Session

from vpitracker.kernel.actor import Actor
from vpitracker.ministries import service as ministries_service
from vpitracker.ministries.schemas import MinistryCreate, MinistryUpdate
from vpitracker.models import Ministry
from vpitracker.transfer import repository
from vpitracker.transfer.parsing import Errors
from vpitracker.transfer.planners import common
from vpitracker.transfer.planners.common import Op
from vpitracker.transfer.schemas import MinistryRow
from vpitracker.versioning import etag


def plan(
    session: Session, actor: Actor, rows: list[tuple[int, MinistryRow]], errors: Errors
) -> list[Op]:
    existing = {m.code: m for m in repository.ministries(session)}
    code_of = {m.id: m.code for m in existing.values()}
    ids: dict[str, int] = {m.code: m.id for m in existing.values() if m.id is not None}
    in_file = {
        row.code: (n, row) for n, row in common.first_rows(rows, lambda r: r.code, "code", errors)
    }
    final_parent: dict[str, str | None] = {
        code: code_of.get(m.parent_id) if m.parent_id else None for code, m in existing.items()
    }
    final_parent.update({code: row.parent_code for code, (_, row) in in_file.items()})
    ops: list[Op] = []
    for code, (number, row) in in_file.items():
        current = existing.get(code)
        parent = row.parent_code
        current_parent = _parent_code(current, code_of)
        if parent is not None and parent != current_parent:
            if parent == code:
                errors.add(number, "parent_code", "a ministry cannot be its own parent")
                continue
            if parent not in in_file and parent not in existing:
                errors.add(number, "parent_code", f"unknown ministry code {parent!r}")
                continue
            if parent in existing and existing[parent].archived_at is not None:
                errors.add(number, "parent_code", f"ministry {parent!r} is archived")
                continue
        chain, cycle = _ancestors(code, final_parent)
        if cycle:
            loop = " -> ".join([code, *chain, code])
            errors.add(number, "parent_code", f"the parents form a cycle: {loop}")
            continue
        desired = {"name": row.name, "kind": row.kind.value, "contact_email": row.contact_email}
        if current is None:
            create = _create_ministry(session, actor, row, ids)
            ops.append(Op(number, code, "created", (), create))
            continue
        changes = common.changes(current, desired)
        if common.blank(current.contact_email) == row.contact_email:
            changes.pop("contact_email", None)
        parent_changed = parent != current_parent
        if not changes and not parent_changed:
            ops.append(Op(number, code, "unchanged"))
            continue
        new_parent: str | Literal[False] | None = parent if parent_changed else False
        update = _update_ministry(session, actor, current, changes, new_parent, ids)
        ops.append(Op(number, code, "updated", (), update))
    _parents_first(ops, final_parent)
    return ops


def _parents_first(ops: list[Op], parent_of: dict[str, str | None]) -> None:
    """Order writes as in the file, except that a parent in the file goes before its children.

    Then every parent a write names already has its final chain of ancestors: no edit
    can make a passing cycle, and new ministries get ids in file order.
    """
    pending = {op.key: op for op in ops if op.apply is not None}
    position = 0

    def visit(op: Op) -> None:
        nonlocal position
        del pending[op.key]
        parent = parent_of.get(op.key)
        if parent in pending:
            visit(pending[parent])
        op.order = (position,)
        position += 1

    for op in ops:
        if op.key in pending:
            visit(op)


def _parent_code(ministry: Ministry | None, code_of: dict[int | None, str]) -> str | None:
    if ministry is None or ministry.parent_id is None:
        return None
    return code_of.get(ministry.parent_id)


def _ancestors(code: str, parent_of: dict[str, str | None]) -> tuple[list[str], bool]:
    """The parent chain above ``code`` once the file is applied, and whether it loops back."""
    chain: list[str] = []
    parent = parent_of.get(code)
    while parent is not None and parent not in chain:
        if parent == code:
            return chain, True
        chain.append(parent)
        parent = parent_of.get(parent)
    return chain, False


def _create_ministry(
    session: Session, actor: Actor, row: MinistryRow, ids: dict[str, int]
) -> Callable[[], None]:
    def apply() -> None:
        body = MinistryCreate(
            code=row.code,
            name=row.name,
            kind=row.kind,
            parent_id=ids[row.parent_code] if row.parent_code else None,
            contact_email=row.contact_email,
        )
        created = ministries_service.create(session, actor, body)
        assert created.id is not None
        ids[row.code] = created.id

    return apply


def _update_ministry(
    session: Session,
    actor: Actor,
    current: Ministry,
    changes: dict[str, Any],
    parent: str | Literal[False] | None,
    ids: dict[str, int],
) -> Callable[[], None]:
    seen = etag(current.version)

    def apply() -> None:
        data = dict(changes)
        if parent is not False:
            data["parent_id"] = ids[parent] if parent else None
        assert current.id is not None
        common.reload(session, current)
        ministries_service.update(session, actor, current.id, MinistryUpdate(**data), seen)

    return apply
