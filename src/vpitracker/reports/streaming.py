"""Report bodies written from cursor batches: a JSON array or CSV, chunk by chunk."""

from __future__ import annotations

import csv
import functools
import io
import json
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack
from datetime import date, datetime
from json.encoder import encode_basestring  # the C escape json.dumps uses
from typing import Any

from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from vpitracker.csvout import FORMULA_START, cell, header_row, neutralize
from vpitracker.jsonutil import iso_z
from vpitracker.kernel.actor import Actor
from vpitracker.reports.service import Fix, Opener, Report, ReportSlots


def _json_value(value: Any) -> str:
    # The same text the API's response models give: Z for UTC, micros only when set.
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# Any value the column fast paths below do not know: the general encoder, as the
# whole array once was.
_encode = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_json_value
).encode

Cells = Callable[[Sequence[Any]], Iterable[str]]


# ISO 8601 text has nothing to escape in JSON.
def _json_datetime(value: datetime) -> str:
    return '"' + value.isoformat().replace("+00:00", "Z") + '"'


# Report dates repeat (commitments share a few hundred committed and due dates); the
# cache is C code, so a repeated date costs no Python call.
@functools.lru_cache(maxsize=4096)
def _json_date(value: date) -> str:
    return '"' + value.isoformat() + '"'


@functools.lru_cache(maxsize=4096)
def _csv_date(value: date) -> str:
    return value.isoformat()


# Exact types only (a subclass, e.g. an enum, takes the general encoder). Each is the
# text json.JSONEncoder writes for that value; most are C functions, so a column of
# one type is encoded without a Python call per cell.
_JSON_CELL: dict[type, Callable[[Any], str]] = {
    str: encode_basestring,
    int: int.__repr__,
    bool: {True: "true", False: "false"}.__getitem__,
    type(None): {None: "null"}.__getitem__,
    datetime: _json_datetime,
    date: _json_date,
}
_CSV_CELL: dict[type, Callable[[Any], str]] = {
    str: neutralize,
    int: int.__repr__,
    bool: {True: "true", False: "false"}.__getitem__,
    type(None): {None: ""}.__getitem__,
    datetime: iso_z,
    date: _csv_date,
}


def _cells(by_type: dict[type, Callable[[Any], str]], fallback: Callable[[Any], str]) -> Cells:
    """A column's values to their cell texts: one function over the column when the
    column holds one known type, else chosen per value."""
    get = by_type.get

    def cells(column: Sequence[Any]) -> Iterable[str]:
        kinds = set(map(type, column))
        if len(kinds) == 1:
            one = get(kinds.pop())
            if one is not None:
                return map(one, column)
        return [get(type(v), fallback)(v) for v in column]

    return cells


_json_cells = _cells(_JSON_CELL, _encode)
_csv_cells = _cells(_CSV_CELL, cell)


def _columns_of(batch: Sequence[Sequence[Any]], fixes: Sequence[Fix | None]) -> list[Any]:
    """The batch column by column, each column's fix applied."""
    # Rows of one result have one length; strict would only cost a check per row.
    columns: list[Any] = list(zip(*batch))  # noqa: B905
    for i, fix in enumerate(fixes):
        if fix is not None:
            columns[i] = list(map(fix, columns[i]))
    return columns


def json_chunks(
    columns: Sequence[str],
    batches: Iterable[Sequence[Sequence[Any]]],
    fixes: Sequence[Fix | None] = (),
) -> Generator[bytes]:
    """One JSON array of objects, keys in column order, one chunk per batch.

    The text is exactly what ``json.JSONEncoder`` writes for the list of row dicts
    (compact separators, no ASCII escaping): each row is a template with the keys
    already written, filled with the cells encoded a column at a time.
    """
    fixes = tuple(fixes) or (None,) * len(columns)
    template = (
        "{" + ",".join(encode_basestring(c).replace("%", "%%") + ":%s" for c in columns) + "}"
    )
    fill = template.__mod__
    yield b"["
    separator = ""
    for batch in batches:
        if batch:
            cells = [_json_cells(column) for column in _columns_of(batch, fixes)]
            yield (separator + ",".join(map(fill, zip(*cells, strict=True)))).encode()
            separator = ","
    yield b"]"


# What csv.writer (QUOTE_MINIMAL, "\r\n" lines) quotes a field for.
_FORMULA_FIRST = frozenset(FORMULA_START)
# Types whose cell text never holds a delimiter, quote or line break.
_UNQUOTED = frozenset({int, bool, type(None), datetime, date})


def _csv_column(column: Sequence[Any]) -> Iterable[str]:
    """A column's CSV fields: the cell texts (formula-safe), quoted as csv.writer does."""
    kinds = set(map(type, column))
    if kinds <= _UNQUOTED:
        return _csv_cells(column)
    if kinds == {str}:
        # Inline, so a text cell costs no Python call: csvout.neutralize's rule.
        texts = [("'" + v) if v[:1] in _FORMULA_FIRST else v for v in column]
    else:
        texts = list(_csv_cells(column))
    return [
        ('"' + t.replace('"', '""') + '"')
        if ("," in t or '"' in t or "\n" in t or "\r" in t)
        else t
        for t in texts
    ]


def csv_chunks(
    columns: Sequence[str],
    batches: Iterable[Sequence[Sequence[Any]]],
    fixes: Sequence[Fix | None] = (),
) -> Generator[bytes]:
    """The header row at once (before the first fetch), then one chunk per batch.

    The text is exactly what ``csv.writer`` writes for ``csvout.cell`` of each value;
    fields are quoted and joined a column at a time instead of field by field.
    """
    fixes = tuple(fixes) or (None,) * len(columns)
    yield _csv_header(columns)
    for batch in batches:
        if not batch:
            continue
        fields = [_csv_column(column) for column in _columns_of(batch, fixes)]
        lines = list(map(",".join, zip(*fields, strict=True)))
        if len(columns) == 1:
            # csv.writer quotes a record that is one empty field, else it would be no line.
            lines = [line or '""' for line in lines]
        yield ("\r\n".join(lines) + "\r\n").encode()


class ReportResponse(StreamingResponse):
    """A streamed body that gives back its connection and slot however the send ends."""

    def __init__(
        self, content: Iterator[bytes], on_close: Callable[[], None], **kwargs: Any
    ) -> None:
        super().__init__(content, **kwargs)
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await run_in_threadpool(self._on_close)


def text_chunks(
    texts: Iterable[Sequence[str]], *, csv: bool, header: bytes = b""
) -> Generator[bytes]:
    """A body from rows the database already wrote (``Report.texts``): CSV records are
    concatenated after ``header``; JSON objects go in one array, comma-separated."""
    if csv:
        yield header
        for batch in texts:
            if batch:
                yield "".join(batch).encode()
        return
    yield b"["
    separator = ""
    for batch in texts:
        if batch:
            yield (separator + ",".join(batch)).encode()
            separator = ","
    yield b"]"


def _csv_header(columns: Sequence[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(header_row(columns))
    return buffer.getvalue().encode()


def respond(
    report: Report,
    opener: Opener,
    release: Callable[[], None],
    *,
    csv: bool,
) -> ReportResponse:
    """Run the report's statement now (so a failure is a problem), stream its rows after.

    On PostgreSQL and SQLite the database writes each row's JSON object or CSV record
    itself (``sqltext``); a report built for no known database has its rows encoded
    here, a column at a time.
    """
    stack = ExitStack()
    stack.callback(release)
    batches: Generator[Any]
    body: Generator[bytes]
    try:
        connection = stack.enter_context(opener())
        if report.written_by_database:
            texts = report.texts(connection, csv=csv)
            batches = texts
            # Run to the first batch now: the statement's errors become problems.
            first = next(texts, None)
            header = _csv_header(report.columns) if csv else b""
            body = text_chunks(_prepend(first, texts), csv=csv, header=header)
        else:
            batches = report.batches(connection)
            encode = csv_chunks if csv else json_chunks
            body = encode(report.columns, batches, report.fixes)
    except BaseException:
        stack.close()
        raise
    if csv:
        kwargs: dict[str, Any] = {
            "media_type": "text/csv; charset=utf-8",
            "headers": {"Content-Disposition": f'attachment; filename="{report.name}.csv"'},
        }
    else:
        kwargs = {"media_type": "application/json"}

    def close() -> None:
        body.close()
        batches.close()
        stack.close()

    return ReportResponse(body, close, **kwargs)


def _prepend(first: list[str] | None, rest: Iterator[list[str]]) -> Generator[list[str]]:
    if first is not None:
        yield first
        yield from rest


def stream(
    request: Request,
    actor: Actor,
    opener: Callable[[], AbstractContextManager[Connection]],
    report: Callable[[str], Report],
    csv: bool,
) -> ReportResponse:
    """A report as the response, under the caller's share of the report slots."""
    caller = actor.scope
    if actor.kind == "anonymous":
        caller += f":{request.client.host if request.client else ''}"
    slots: ReportSlots = request.app.state.report_slots
    release = slots.acquire(caller)
    try:
        built = report(_dialect(request))
    except BaseException:
        release()
        raise
    return respond(built, opener, release, csv=csv)


def _dialect(request: Request) -> str:
    name: str = request.app.state.engine.dialect.name
    return name
