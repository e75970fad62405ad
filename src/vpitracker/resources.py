"""What every resource's routes do, written once (docs/architecture.md, "Adding a resource").

The HTTP floor between the request dependencies (``deps``) and the routers: the
id in a path, the clock a read is computed at, the ``ETag`` of a versioned
record, a page with its ``Link`` header, and a JSON-or-CSV answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sqlmodel import Session

from vpitracker.config import Settings
from vpitracker.csvout import columns_of, csv_response, flatten, wants_csv
from vpitracker.db import end_read
from vpitracker.deps import AsOf, PendingCaller, SettingsDep
from vpitracker.kernel.clock import Clock
from vpitracker.pagination import Page, link_next
from vpitracker.versioning import etag

T = TypeVar("T")
B = TypeVar("B", bound=BaseModel)

# A record's id in a path: a positive 32-bit integer, as every table's key is.
IdPath = Annotated[int, Path(ge=1, le=2**31 - 1)]


def clock_as_of(settings: Settings, as_of: date | None = None) -> Clock:
    """The moment derived state is computed for: now, or the end of ``as_of``."""
    return Clock.at(as_of, settings.stale_after_days)


# The dependencies do no I/O: async, so FastAPI runs them without a thread hop.
async def _clock_as_of(settings: SettingsDep, as_of: AsOf = None) -> Clock:
    return clock_as_of(settings, as_of)


async def _clock_now(settings: SettingsDep) -> Clock:
    """Now, for routes that take no ``as_of`` (a write answers with the state it made)."""
    return Clock.at(None, settings.stale_after_days)


ClockDep = Annotated[Clock, Depends(_clock_as_of)]
NowDep = Annotated[Clock, Depends(_clock_now)]
Csv = Annotated[bool, Depends(wants_csv)]


def etagged(response: Response, version: int, body: B) -> B:
    """``body`` with the record's ``ETag`` (its version) on ``response``."""
    response.headers["ETag"] = etag(version)
    return body


def page_of(
    request: Request, response: Response, items: Sequence[T], next_cursor: str | None
) -> Page[T]:
    """One page of a listing, with the ``Link: rel="next"`` header when there is more."""
    link_next(request, response, next_cursor)
    return Page(items=list(items), next_cursor=next_cursor)


P = TypeVar("P", bound=Page[Any])


async def checked_read(session: Session, caller: PendingCaller, read: Callable[[], T]) -> T:
    """``read`` with its caller's check first and its read transaction ended, in one hop.

    A sync route with a sync gate takes four hops: the caller's check, the route,
    its response validation, and the session's commit. Here the caller is checked
    (``PendingCaller.check``: 401 or 403, then any deferred input problem), ``read``
    runs and the read transaction ends, all in the same thread-pool hop.
    """

    def run() -> T:
        caller.check()
        if caller.session is not session:
            end_read(caller.session)  # the primary's, beside a replica's read
        result = read()
        end_read(session)
        return result

    return await run_in_threadpool(run)


async def page_read(
    request: Request,
    response: Response,
    session: Session,
    caller: PendingCaller,
    page: type[P],
    read: Callable[[], tuple[Sequence[object], str | None]],
) -> P:
    """One page of a listing, in one hop with its caller's check (``checked_read``).

    ``read`` gives rows and the next cursor; its rows (records or plain result rows,
    read by attribute) are validated as ``page`` in one call in the same hop, so the
    page is an instance of the route's response model, which FastAPI passes through
    to its encoder.
    """

    def run() -> P:
        rows, next_cursor = read()
        return page.model_validate(
            {"items": rows, "next_cursor": next_cursor}, from_attributes=True
        )

    body = await checked_read(session, caller, run)
    link_next(request, response, body.next_cursor)
    return body


def json_or_csv(
    result: B,
    csv: bool,
    filename: str,
    *,
    row: type[BaseModel] | None = None,
) -> B | Response:
    """``result`` as JSON, or as CSV (``filename.csv``) when the request asked (``Csv``).

    With ``row``, the CSV has one line per item of ``result.items``, with the columns of
    ``row``: the items dumped with ``result`` in one call, not a model dumped per row.
    Without ``row``, ``result`` itself is the one line.
    """
    if not csv:
        return result
    if row is None:
        return csv_response(columns_of(type(result)), [flatten(result.model_dump())], filename)
    items = result.model_dump()["items"]
    return csv_response(columns_of(row), (flatten(item) for item in items), filename)
