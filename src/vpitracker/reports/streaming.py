"""Report bodies written from cursor batches: a JSON array or CSV, chunk by chunk."""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack
from datetime import date, datetime
from typing import Any

from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from vpitracker.csvout import csv_lines
from vpitracker.kernel.actor import Actor
from vpitracker.reports.service import Opener, Report, ReportSlots


def _json_value(value: Any) -> str:
    # The same text the API's response models give: Z for UTC, micros only when set.
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_encode = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_json_value
).encode


def json_chunks(
    columns: Sequence[str], batches: Iterable[list[tuple[Any, ...]]]
) -> Generator[bytes]:
    """One JSON array of objects, keys in column order, one chunk per batch."""
    yield b"["
    separator = ""
    for batch in batches:
        if batch:
            text = _encode([dict(zip(columns, row, strict=True)) for row in batch])
            yield (separator + text[1:-1]).encode()
            separator = ","
    yield b"]"


def csv_chunks(
    columns: Sequence[str], batches: Iterable[list[tuple[Any, ...]]]
) -> Generator[bytes]:
    rows = (row for batch in batches for row in batch)
    for text in csv_lines(columns, rows):
        yield text.encode()


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


def respond(report: Report, opener: Opener, release: Callable[[], None], *, csv: bool) -> Any:
    """Run the report's statement now (so a failure is a problem), stream its rows after."""
    stack = ExitStack()
    stack.callback(release)
    try:
        connection = stack.enter_context(opener())
        batches = report.batches(connection)
    except BaseException:
        stack.close()
        raise
    if csv:
        body = csv_chunks(report.columns, batches)
        kwargs: dict[str, Any] = {
            "media_type": "text/csv; charset=utf-8",
            "headers": {"Content-Disposition": f'attachment; filename="{report.name}.csv"'},
        }
    else:
        body = json_chunks(report.columns, batches)
        kwargs = {"media_type": "application/json"}

    def close() -> None:
        body.close()
        batches.close()
        stack.close()

    return ReportResponse(body, close, **kwargs)


def stream(
    request: Request,
    actor: Actor,
    opener: Callable[[], AbstractContextManager[Connection]],
    report: Any,
    csv: bool,
) -> Any:
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
