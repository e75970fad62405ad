"""What every planner uses: the planned write, duplicate rows, changed fields, the reload."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import BaseModel
from sqlmodel import Session, SQLModel

from vpitracker.transfer.parsing import Errors

R = TypeVar("R", bound=BaseModel)


@dataclass
class Op:
    """One row's planned write (``apply`` is None when the row changes nothing)."""

    row: int
    key: str
    action: Literal["created", "updated", "unchanged"]
    order: tuple[Any, ...] = ()
    apply: Callable[[], object] | None = None


def first_rows(
    rows: list[tuple[int, R]], key: Callable[[R], Hashable], column: str, errors: Errors
) -> list[tuple[int, R]]:
    """Rows whose key no earlier row had; the repeats are errors."""
    first: dict[Hashable, int] = {}
    out = []
    for number, row in rows:
        k = key(row)
        if k in first:
            errors.add(number, column, f"the same {column} as row {first[k]}")
            continue
        first[k] = number
        out.append((number, row))
    return out


def blank(value: str | None) -> str | None:
    return value or None


def changes(current: object, desired: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in desired.items() if getattr(current, k) != v}


def reload(session: Session, row: SQLModel) -> None:
    """Read the row again, locked, before its edit.

    The edit then carries the version the checks saw as ``If-Match``: should another
    writer have changed the record since, the service answers 412 and the import is
    rolled back instead of overwriting that change.
    """
    session.refresh(row, with_for_update=True)
