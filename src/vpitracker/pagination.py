"""Keyset (cursor) pagination: stable under concurrent inserts."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Generic, TypeVar, TypeVarTuple
from urllib.parse import parse_qsl, urlencode

from fastapi import Request, Response
from pydantic import BaseModel
from sqlalchemy import BindParameter, ColumnElement, Integer, Row, Select, and_, bindparam, or_
from sqlmodel import Session

from vpitracker.errors import Invalid

T = TypeVar("T")
M = TypeVar("M")
Ts = TypeVarTuple("Ts")

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class PageRequest:
    limit: int
    cursor: str | None
    sort: str

    @property
    def after(self) -> bool:
        """Whether the page starts after a cursor's row (an empty ``cursor=`` is the first page)."""
        return bool(self.cursor)


def _encode(sort: str, values: list[object]) -> str:
    raw = json.dumps({"s": sort, "v": values}, separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str, sort: str) -> list[object]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        values = data["v"]
        if data["s"] != sort or not isinstance(values, list) or len(values) != 2:
            raise ValueError("cursor belongs to another sort order")
        return values
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError) as exc:
        raise Invalid("The cursor is not valid for this listing", loc=["query", "cursor"]) from exc


def _coerce(column: ColumnElement[Any], value: object) -> object:
    try:
        py = column.type.python_type
    except NotImplementedError:
        return value
    try:
        # A cursor is client input: every value must have its column's type, or 422.
        if py is datetime:
            if not isinstance(value, str):
                raise ValueError("expected a timestamp")
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:
                raise ValueError("expected a UTC timestamp")
            return moment
        if py is date:
            if not isinstance(value, str):
                raise ValueError("expected a date")
            return date.fromisoformat(value)
        if py is int and (not isinstance(value, int) or not -(2**63) <= value < 2**63):
            raise ValueError("expected an integer")
        if py is str and (not isinstance(value, str) or "\x00" in value):
            raise ValueError("expected text without NUL characters (PostgreSQL refuses them)")
    except ValueError as exc:
        raise Invalid("The cursor is not valid for this listing", loc=["query", "cursor"]) from exc
    return value


def paginate(
    session: Session,
    stmt: Select[M],
    *,
    page: PageRequest,
    sort_columns: Mapping[str, Any],
    id_column: Any,
) -> tuple[list[M], str | None]:
    """One page of the records ``stmt`` selects (see ``paginate_rows``)."""
    rows, next_cursor = paginate_rows(
        session, stmt, page=page, sort_columns=sort_columns, id_column=id_column
    )
    return [row[0] for row in rows], next_cursor


# sort_columns and id_column stay Any: sqlmodel's col() types model attributes as
# Mapped[...], which SQLAlchemy's stubs give neither .label() nor .type.
def paginate_rows(
    session: Session,
    stmt: Select[*Ts],
    *,
    page: PageRequest,
    sort_columns: Mapping[str, Any],
    id_column: Any,
) -> tuple[list[Row[*Ts]], str | None]:
    """One page of ``stmt`` ordered by the whitelisted sort key, ``id`` breaking ties.

    Each row is ``stmt``'s columns followed by the two sort columns the cursor is made of.
    """
    params = keyset_params(page, sort_columns=sort_columns, id_column=id_column)
    paged = keyset(
        stmt, sort=page.sort, after=page.after,
        sort_columns=sort_columns, id_column=id_column,
    )  # fmt: skip
    return page_rows(session, paged, params, page=page)


def keyset_params(
    page: PageRequest, *, sort_columns: Mapping[str, Any], id_column: Any
) -> dict[str, Any]:
    """The bound values of ``keyset(...)`` for ``page``; 422 for an unknown sort or a bad cursor."""
    name = page.sort.removeprefix("-")
    if name not in sort_columns:
        allowed = ", ".join(sorted(sort_columns))
        raise Invalid(
            "sort must be one of %(allowed)s (prefix - for descending)",
            loc=["query", "sort"],
            allowed=allowed,
        )
    params: dict[str, Any] = {"vpi_limit": page.limit + 1}
    if page.cursor:  # page.after
        last_value, last_id = _decode(page.cursor, page.sort)
        params["vpi_after_value"] = _coerce(sort_columns[name], last_value)
        # The tiebreaker is an integer id, or a text key (provisions): check it by its column.
        params["vpi_after_id"] = _coerce(id_column, last_id)
        if params["vpi_after_id"] is None:
            raise Invalid("The cursor is not valid for this listing", loc=["query", "cursor"])
    return params


def keyset(
    stmt: Select[*Ts],
    *,
    sort: str,
    after: bool,
    sort_columns: Mapping[str, Any],
    id_column: Any,
) -> Select[*Ts]:
    """``stmt`` as one keyset page, its values bound (``keyset_params``): ordered by ``sort``
    (a key of ``sort_columns``, ``-`` for descending) then ``id_column``, after the cursor's
    row when ``after``, one row more than the page (to know there is a next one).

    The statement depends on the sort and on whether there is a cursor only, so a
    repository may build it once (``functools.cache``) and run it for every page.
    """
    descending = sort.startswith("-")
    column = sort_columns[sort.removeprefix("-")]
    if after:
        value: BindParameter[Any] = bindparam("vpi_after_value")
        last_id: BindParameter[Any] = bindparam("vpi_after_id")
        if descending:
            stmt = stmt.where(or_(column < value, and_(column == value, id_column < last_id)))
        else:
            stmt = stmt.where(or_(column > value, and_(column == value, id_column > last_id)))
    order = (column.desc(), id_column.desc()) if descending else (column.asc(), id_column.asc())
    paged = stmt.add_columns(column.label("sort_value"), id_column.label("sort_id"))
    return paged.order_by(*order).limit(bindparam("vpi_limit", type_=Integer))


def page_rows(
    session: Session, paged: Select[*Ts], params: Mapping[str, Any], *, page: PageRequest
) -> tuple[list[Row[*Ts]], str | None]:
    """Run ``keyset(...)`` with its ``params``: the page's rows and the next cursor."""
    # all(): one fetchall; iterating the result would fetch (fetchone) row by row.
    rows: list[Row[*Ts]] = list(session.execute(paged, params).all())
    next_cursor = None
    if len(rows) > page.limit:
        rows = rows[: page.limit]
        last = rows[-1]._mapping
        next_cursor = _encode(page.sort, [_jsonable(last["sort_value"]), last["sort_id"]])
    return rows, next_cursor


def row_dicts(rows: Sequence[Row[*tuple[Any, ...]]]) -> list[dict[str, Any]]:
    """``rows`` as dicts keyed by their column names, to validate as response models.

    Pydantic reads a dict's fields several times faster than a ``Row``'s attributes
    (``from_attributes``), and zipping the names once is faster than ``Row._mapping``.
    """
    if not rows:
        return []
    names = rows[0]._fields
    return [dict(zip(names, row, strict=True)) for row in rows]


def _jsonable(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


@lru_cache(maxsize=1024)
def _next_target(public_url: str | None, path: str, query_string: bytes) -> str:
    """``path?query`` with the cursor taken out and ``cursor=`` put last, unfilled: what
    Starlette's ``URL.include_query_params(cursor=...)`` makes of the request's URL."""
    # As URL(scope) writes the path, which is the path a route matched (no host in it).
    path = path.replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")
    kept = [
        (k, v) for k, v in parse_qsl(query_string.decode(), keep_blank_values=True) if k != "cursor"
    ]
    target = f"{path}?{urlencode(kept)}&cursor=" if kept else f"{path}?cursor="
    return public_url.rstrip("/") + target if public_url else target


def link_next(request: Request, response: Response, next_cursor: str | None) -> None:
    """Set ``Link: <...>; rel="next"`` when there is a next page.

    The target is never built from the request's ``Host`` header (a client or a proxy
    may forge it): it is ``VPI_PUBLIC_URL`` plus the path when that is set, else a
    relative reference (RFC 8288 resolves it against the request's own URL). Its query is
    the request's with ``cursor`` replaced, kept per query string (``_next_target``); a
    cursor is URL-safe base64, which the query takes as it is.
    """
    if next_cursor:
        scope = request.scope
        target = _next_target(
            request.app.state.settings.public_url, scope["path"], scope["query_string"]
        )
        response.headers["Link"] = f'<{target}{next_cursor}>; rel="next"'
