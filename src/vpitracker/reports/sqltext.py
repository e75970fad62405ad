"""Report rows written by the database: each row's JSON object or CSV line as one text.

The text is byte for byte what ``streaming.json_chunks`` / ``streaming.csv_chunks``
write for the same row (tests/reports/test_sqltext.py compares them, on PostgreSQL
and SQLite): the server then only joins the texts of a batch, with no Python work
per cell. Each cell is written by the rule its report column's declared type (the
row model) gives:

- ``int``: its decimal text (JSON and CSV alike);
- ``bool``: ``true`` / ``false`` (SQLite's 0 / 1 too);
- ``str``: JSON: escaped as ``json`` escapes it (PostgreSQL's ``to_json`` and
  SQLite's ``json_quote`` use the same escapes); CSV: neutralized as a formula
  (``csvout.neutralize``), then quoted as ``csv.writer`` quotes (a field with a comma,
  quote, CR or LF);
- ``date``: ``YYYY-MM-DD``; ``datetime`` (UTC): ISO 8601 with ``Z``, in JSON with
  microseconds only when there are any (``datetime.isoformat``), in CSV always
  (``jsonutil.iso_z``);
- NULL: JSON ``null``, CSV an empty field.

SQLite keeps dates as ``YYYY-MM-DD`` text and UTC timestamps as naive
``YYYY-MM-DD HH:MM:SS[.ffffff]`` text (SQLAlchemy's storage format), so there the
rules rewrite text; PostgreSQL formats its typed values.
"""

from __future__ import annotations

import functools
import operator
import types
from collections.abc import Sequence
from datetime import date, datetime
from json.encoder import encode_basestring
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel
from sqlalchemy import (
    ColumnElement,
    Select,
    Text,
    and_,
    case,
    cast,
    func,
    literal,
    not_,
    or_,
    select,
)

from vpitracker.csvout import FORMULA_START

# Cells by the type a report row model declares for the column.
Kind = type
# The databases these rules are written for.
DIALECTS = frozenset({"postgresql", "sqlite"})


def kinds(model: type[BaseModel]) -> tuple[Kind, ...]:
    """The cell type of each column of ``model``, ``X | None`` taken as ``X``."""
    out: list[Kind] = []
    for name, field in model.model_fields.items():
        kind: Any = field.annotation
        if get_origin(kind) in (Union, types.UnionType):
            kind = next(a for a in get_args(kind) if a is not type(None))
        if kind not in (int, bool, str, date, datetime):
            raise TypeError(f"report column {name} has no SQL text rule: {kind}")
        out.append(kind)
    return tuple(out)


def _text(value: str) -> ColumnElement[str]:
    return literal(value, Text)


def _concat(parts: Sequence[ColumnElement[str]]) -> ColumnElement[str]:
    return functools.reduce(operator.add, parts)


def _iso_date(value: ColumnElement[Any], dialect: str) -> ColumnElement[str]:
    if dialect == "sqlite":
        return cast(value, Text)
    return func.to_char(value, _text("YYYY-MM-DD"), type_=Text)


def _iso_z(value: ColumnElement[Any], dialect: str, *, micros: bool) -> ColumnElement[str]:
    # JSON: microseconds only when they are not all zero (datetime.isoformat); CSV:
    # always (jsonutil.iso_z).
    text: ColumnElement[str]
    if dialect == "sqlite":
        text = func.replace(cast(value, Text), _text(" "), _text("T"), type_=Text)
        if micros:
            # A stored text without its fraction gets zeros; one with it keeps its own.
            return func.substr(text + _text(".000000"), 1, 26, type_=Text) + _text("Z")
    else:
        utc = func.timezone(_text("UTC"), value)
        text = func.to_char(utc, _text('YYYY-MM-DD"T"HH24:MI:SS.US'), type_=Text)
        if micros:
            return text + _text("Z")
    return func.replace(text, _text(".000000"), _text(""), type_=Text) + _text("Z")


def _bool(value: ColumnElement[Any], null: str) -> ColumnElement[str]:
    return case((value, _text("true")), (not_(value), _text("false")), else_=_text(null))


# csvout.neutralize's characters, each one character long (strpos finds '' at 1, so
# an empty cell is tested apart); for SQLite a GLOB class with '-' first (elsewhere it
# would be a range).
_FORMULA_CHARS = "".join(FORMULA_START)
_FORMULA_GLOB = "[" + "".join(sorted(FORMULA_START, key=lambda c: c != "-")) + "]*"
# csv.writer (QUOTE_MINIMAL) quotes a field holding one of these.
_QUOTED_FOR = (",", '"', "\r", "\n")
_NEEDS_QUOTES = "[" + "".join(_QUOTED_FOR) + "]"


def _csv_text(raw: ColumnElement[str], dialect: str) -> ColumnElement[str]:
    # The formula guard adds no character that needs quotes, so the quoting is decided
    # on the value itself, and each branch writes the guard once.
    formula: ColumnElement[bool]
    needs_quotes: ColumnElement[bool]
    if dialect == "sqlite":
        # An anchored GLOB reads one character. A GLOB '*c*' per character is SQLite's
        # fastest search for one (a byte loop; instr costs half as much again, and a
        # GLOB '*[...]*' more than the rest of the row).
        formula = raw.op("GLOB")(_text(_FORMULA_GLOB))
        needs_quotes = or_(*(raw.op("GLOB")(_text(f"*{c}*")) for c in _QUOTED_FOR))
    else:
        first = func.left(raw, 1, type_=Text)
        formula = and_(raw != _text(""), func.strpos(_text(_FORMULA_CHARS), first) > 0)
        needs_quotes = raw.op("~")(_text(_NEEDS_QUOTES))
    guard = case((formula, _text("'")), else_=_text(""))
    return case(
        (
            needs_quotes,
            _text('"') + guard + func.replace(raw, _text('"'), _text('""'), type_=Text) + '"',
        ),
        else_=guard + raw,
    )


def _json_text(raw: ColumnElement[str], dialect: str) -> ColumnElement[str]:
    if dialect == "sqlite":
        return func.json_quote(raw, type_=Text)
    return cast(func.to_json(raw), Text)


def cell(kind: Kind, value: ColumnElement[Any], dialect: str, *, csv: bool) -> ColumnElement[str]:
    """One cell's JSON text, or its CSV field (quoted where csv.writer would quote it)."""
    null = "" if csv else "null"
    if kind is bool:
        return _bool(value, null)
    text: ColumnElement[str]
    if kind is int:
        text = cast(value, Text)
    elif kind is str:
        raw = cast(value, Text)
        text = _csv_text(raw, dialect) if csv else _json_text(raw, dialect)
    else:
        text = _iso_date(value, dialect) if kind is date else _iso_z(value, dialect, micros=csv)
        if not csv:
            text = _text('"') + text + _text('"')
    return func.coalesce(text, _text(null))


def _fenced(statement: Select[Any]) -> Any:
    # OFFSET 0 keeps the database from pulling the report's select up into this one,
    # where each reference to a cell would run its expression again (a list column's
    # subquery several times per row); its rows keep their order.
    return statement.offset(0).subquery("report")


def _ordered(rows: Select[str], report: Any, order: Sequence[str], dialect: str) -> Select[str]:
    # SQLite scans the fenced select as a co-routine, in the select's own order; an
    # ORDER BY here would sort every written row again before the first is out.
    # PostgreSQL knows the select's order and does not sort again.
    if dialect == "sqlite":
        return rows
    return rows.order_by(*(report.c[n] for n in order))


def json_rows(
    statement: Select[Any],
    columns: Sequence[str],
    row_kinds: Sequence[Kind],
    order: Sequence[str],
    dialect: str,
) -> Select[str]:
    """``statement``'s rows as JSON objects (keys in column order), one text each."""
    report = _fenced(statement)
    parts: list[ColumnElement[str]] = []
    for i, (name, kind) in enumerate(zip(columns, row_kinds, strict=True)):
        key = ("{" if i == 0 else ",") + encode_basestring(name) + ":"
        parts += [_text(key), cell(kind, report.c[name], dialect, csv=False)]
    parts.append(_text("}"))
    return _ordered(select(_concat(parts)), report, order, dialect)


def csv_rows(
    statement: Select[Any],
    columns: Sequence[str],
    row_kinds: Sequence[Kind],
    order: Sequence[str],
    dialect: str,
) -> Select[str]:
    """``statement``'s rows as CSV records (``\\r\\n`` ended), one text each."""
    report = _fenced(statement)
    parts: list[ColumnElement[str]] = []
    for i, (name, kind) in enumerate(zip(columns, row_kinds, strict=True)):
        if i:
            parts.append(_text(","))
        parts.append(cell(kind, report.c[name], dialect, csv=True))
    line = _concat(parts)
    if len(columns) == 1:
        # csv.writer quotes a record that is one empty field, else it would be no line.
        line = case((line == _text(""), _text('""')), else_=line)
    return _ordered(select(line + _text("\r\n")), report, order, dialect)
