"""From a sheet's cells to checked row models, with every problem located (row, column)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from vpitracker.transfer.formats import Row
from vpitracker.transfer.schemas import COLUMNS, ROW_MODELS, CellType, Kind, RowError, column_names


class Errors:
    """The problems found in a file, each at its row and column."""

    def __init__(self) -> None:
        self.items: list[RowError] = []

    def add(self, row: int | None, column: str | None, msg: str) -> None:
        loc: list[str | int] = [x for x in (row, column) if x is not None]
        self.items.append(RowError(loc=loc, msg=msg))

    def __bool__(self) -> bool:
        return bool(self.items)


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIMESTAMP = re.compile(
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}:?\d{2})?$"
)
_WHOLE = re.compile(r"^[+-]?\d{1,9}(\.0*)?$")


def _parse_date(text: str) -> date:
    try:
        if _DATE.match(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise ValueError(f"{text!r} is not a date written YYYY-MM-DD")


def parse_timestamp(text: str) -> datetime:
    """ISO 8601; without an offset the time is taken as UTC."""
    try:
        if _TIMESTAMP.match(text):
            value = datetime.fromisoformat(text.replace(" ", "T", 1).replace("Z", "+00:00"))
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except ValueError:
        pass
    raise ValueError(f"{text!r} is not a UTC timestamp such as 2025-03-01T09:30:00Z")


def _parse_int(text: str) -> int:
    if not _WHOLE.match(text):
        raise ValueError(f"{text!r} is not a whole number")
    return int(text.split(".")[0])


def _parse_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(";") if part.strip()]


_PARSERS: dict[CellType, Callable[[str], Any]] = {
    "text": lambda text: text,
    "list": _parse_list,
    "date": _parse_date,
    "datetime": parse_timestamp,
    "int": _parse_int,
}


def message(error: ErrorDetails) -> str:
    if error["type"] == "missing":
        return "a value is required"
    msg = str(error["msg"]).removeprefix("Value error, ")
    items = [p for p in error["loc"][1:] if isinstance(p, int)]
    return f"item {items[0] + 1}: {msg}" if items else msg


def letter(index: int) -> str:
    """The spreadsheet's name for the 1-based column ``index`` (1 -> A, 27 -> AA)."""
    name = ""
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def check_header(kind: Kind, header: list[str], errors: Errors) -> None:
    known = {c.name for c in COLUMNS[kind]}
    seen: set[str] = set()
    for i, name in enumerate(header, start=1):
        if not name:
            errors.add(1, letter(i), "this column has no name")
        elif name in seen:
            errors.add(1, name, "this column appears twice")
        elif name not in known:
            errors.add(1, name, f"unknown column; the columns are {', '.join(column_names(kind))}")
        seen.add(name)
    for column in COLUMNS[kind]:
        if not column.optional and column.name not in seen:
            errors.add(1, column.name, "missing column")


def parse_rows(kind: Kind, rows: Iterable[Row], errors: Errors) -> list[tuple[int, Any]]:
    """The rows' models, one row read and checked at a time (``rows`` may be streamed)."""
    model = ROW_MODELS[kind]
    out: list[tuple[int, Any]] = []
    for line in rows:
        number, raw = line.number, line.cells
        for index in line.stray:
            errors.add(number, letter(index), "a value in a column with no name")
        values: dict[str, Any] = {}
        bad: set[str] = set()
        for column in COLUMNS[kind]:
            text = raw.get(column.name, "").strip()
            if not text:
                continue
            try:
                values[column.name] = _PARSERS[column.type](text)
            except ValueError as exc:
                errors.add(number, column.name, str(exc))
                bad.add(column.name)
        try:
            row = model.model_validate(values)
        except ValidationError as exc:
            for error in exc.errors():
                column_name = str(error["loc"][0]) if error["loc"] else None
                if column_name not in bad:
                    errors.add(number, column_name, message(error))
            continue
        if not bad:
            out.append((number, row))
    return out
