"""Report rows written by PostgreSQL: each row's JSON object or CSV line as one text.

The text is byte for byte what ``streaming.json_chunks`` / ``streaming.csv_chunks``
write for the same row (tests/reports/test_sqltext.py compares them): the server
then only joins the texts of a batch, with no Python work per cell. Each cell is
written by the rule its report column's declared type (the row model) gives:

- ``int``: its decimal text (JSON and CSV alike);
- ``bool``: ``true`` / ``false``;
- ``str``: JSON: escaped as ``json`` escapes it (``to_json``, the same escapes);
  CSV: neutralized as a formula (``csvout.neutralize``), then quoted as ``csv.writer``
  quotes (a field with a comma, quote, CR or LF);
- ``date``: ``YYYY-MM-DD``; ``datetime`` (UTC): ISO 8601 with ``Z``, in JSON with
  microseconds only when there are any (``datetime.isoformat``), in CSV always
  (``jsonutil.iso_z``);
- NULL: JSON ``null``, CSV an empty field.
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
from sqlalchemy import ColumnElement, Select, Text, and_, case, cast, func, literal, not_, select

from vpitracker.csvout import FORMULA_START

# Cells by the type a report row model declares for the column.
Kind = type


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


def _iso_date(value: ColumnElement[Any]) -> ColumnElement[str]:
    return func.to_char(value, _text("YYYY-MM-DD"), type_=Text)


def _iso_z(value: ColumnElement[Any], *, micros: bool = False) -> ColumnElement[str]:
    # JSON: microseconds only when they are not all zero (datetime.isoformat); CSV:
    # always (jsonutil.iso_z).
    utc = func.timezone(_text("UTC"), value)
    text = func.to_char(utc, _text('YYYY-MM-DD"T"HH24:MI:SS.US'), type_=Text)
    if not micros:
        text = func.replace(text, _text(".000000"), _text(""), type_=Text)
    return text + _text("Z")


def _bool(value: ColumnElement[Any], null: str) -> ColumnElement[str]:
    return case((value, _text("true")), (not_(value), _text("false")), else_=_text(null))


# csvout.neutralize's characters, each one character long (strpos finds '' at 1, so
# an empty cell is tested apart).
_FORMULA_CHARS = "".join(FORMULA_START)
# csv.writer (QUOTE_MINIMAL) quotes a field holding one of these.
_NEEDS_QUOTES = '[,"\r\n]'


def _csv_text(raw: ColumnElement[str]) -> ColumnElement[str]:
    # The formula guard adds no character that needs quotes, so the quoting is decided
    # on the value itself, and each branch writes the guard once.
    guard = case(
        (
            and_(
                raw != _text(""),
                func.strpos(_text(_FORMULA_CHARS), func.left(raw, 1, type_=Text)) > 0,
            ),
            _text("'"),
        ),
        else_=_text(""),
    )
    return case(
        (
            raw.op("~")(_text(_NEEDS_QUOTES)),
            _text('"') + guard + func.replace(raw, _text('"'), _text('""'), type_=Text) + '"',
        ),
        else_=guard + raw,
    )


def cell(kind: Kind, value: ColumnElement[Any], *, csv: bool) -> ColumnElement[str]:
    """One cell's JSON text, or its CSV field (quoted where csv.writer would quote it)."""
    null = "" if csv else "null"
    if kind is bool:
        return _bool(value, null)
    text: ColumnElement[str]
    if kind is int:
        text = cast(value, Text)
    elif kind is str:
        raw = cast(value, Text)
        text = _csv_text(raw) if csv else cast(func.to_json(raw), Text)
    else:
        text = _iso_date(value) if kind is date else _iso_z(value, micros=csv)
        if not csv:
            text = _text('"') + text + _text('"')
    return func.coalesce(text, _text(null))


def _fenced(statement: Select[Any]) -> Any:
    # OFFSET 0 keeps PostgreSQL from pulling the report's select up into this one, where
    # each reference to a cell would run its expression again (a list column's
    # subquery several times per row); its rows keep their order.
    return statement.offset(0).subquery("report")


def json_rows(
    statement: Select[Any], columns: Sequence[str], row_kinds: Sequence[Kind], order: Sequence[str]
) -> Select[str]:
    """``statement``'s rows as JSON objects (keys in column order), one text each."""
    report = _fenced(statement)
    parts: list[ColumnElement[str]] = []
    for i, (name, kind) in enumerate(zip(columns, row_kinds, strict=True)):
        key = ("{" if i == 0 else ",") + encode_basestring(name) + ":"
        parts += [_text(key), cell(kind, report.c[name], csv=False)]
    parts.append(_text("}"))
    return select(_concat(parts)).order_by(*(report.c[n] for n in order))


def csv_rows(
    statement: Select[Any], columns: Sequence[str], row_kinds: Sequence[Kind], order: Sequence[str]
) -> Select[str]:
    """``statement``'s rows as CSV records (``\\r\\n`` ended), one text each."""
    report = _fenced(statement)
    parts: list[ColumnElement[str]] = []
    for i, (name, kind) in enumerate(zip(columns, row_kinds, strict=True)):
        if i:
            parts.append(_text(","))
        parts.append(cell(kind, report.c[name], csv=True))
    line = _concat(parts)
    if len(columns) == 1:
        # csv.writer quotes a record that is one empty field, else it would be no line.
        line = case((line == _text(""), _text('""')), else_=line)
    return select(line + _text("\r\n")).order_by(*(report.c[n] for n in order))
