"""Ministry queries."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from sqlalchemy import Row, Select, bindparam
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from vpitracker.kernel.filters import MinistryFilters
from vpitracker.models import Ministry, table_of
from vpitracker.pagination import PageRequest, keyset, keyset_params, page_rows
from vpitracker.records import by_key, matches

SORTS = {"id": col(Ministry.id), "code": col(Ministry.code), "name": col(Ministry.name)}


def get(session: Session, ministry_id: int, *, for_update: bool = False) -> Ministry | None:
    return by_key(session, Ministry, ministry_id, for_update=for_update)


def by_code(session: Session, code: str) -> Ministry | None:
    return session.exec(select(Ministry).where(Ministry.code == code)).first()


def by_codes(session: Session, codes: Iterable[str]) -> dict[str, Ministry]:
    codes = list(codes)
    rows = (
        session.exec(select(Ministry).where(col(Ministry.code).in_(codes))).all() if codes else []
    )
    return {m.code: m for m in rows}


def active_ids(session: Session, ids: Iterable[int]) -> set[int]:
    ids = list(ids)
    if not ids:
        return set()
    stmt = select(Ministry.id).where(col(Ministry.id).in_(ids), col(Ministry.archived_at).is_(None))
    return {i for i in session.exec(stmt).all() if i is not None}


# A list selects the table's columns, not the ORM entity: its rows are only serialized.
_MINISTRY = table_of(Ministry)


def _statement(
    include_archived: bool, q: str | None, kind: bool, parent: bool, sort: str, after: bool
) -> Select[*tuple[Any, ...]]:
    """A list page's statement: every value bound but ``q``'s (an escaped pattern)."""
    stmt: Select[*tuple[Any, ...]] = sa_select(*_MINISTRY.c)
    if not include_archived:
        stmt = stmt.where(col(Ministry.archived_at).is_(None))
    if q:
        stmt = stmt.where(matches(q, col(Ministry.name), col(Ministry.code)))
    if kind:
        stmt = stmt.where(col(Ministry.kind) == bindparam("vpi_kind"))
    if parent:
        stmt = stmt.where(col(Ministry.parent_id) == bindparam("vpi_parent_id"))
    return keyset(stmt, sort=sort, after=after, sort_columns=SORTS, id_column=col(Ministry.id))


# Built once per shape; with ``q`` the statement is built per request, not kept.
_page = lru_cache(maxsize=64)(_statement)


def list_ministries(
    session: Session, *, filters: MinistryFilters, page: PageRequest
) -> tuple[list[Row[*tuple[Any, ...]]], str | None]:
    """One page of ministry rows (the table's columns, then the cursor's)."""
    params = keyset_params(page, sort_columns=SORTS, id_column=col(Ministry.id))
    if filters.kind is not None:
        params["vpi_kind"] = filters.kind.value
    if filters.parent_id is not None:
        params["vpi_parent_id"] = filters.parent_id
    build = _statement if filters.q else _page
    stmt = build(
        filters.include_archived, filters.q or None, filters.kind is not None,
        filters.parent_id is not None, page.sort, page.after,
    )  # fmt: skip
    return page_rows(session, stmt, params, page=page)


def ancestors(session: Session, ministry_id: int) -> list[int]:
    """The chain of parent ids above a ministry (to refuse cycles)."""
    seen: list[int] = []
    current = get(session, ministry_id)
    while current is not None and current.parent_id is not None and current.parent_id not in seen:
        seen.append(current.parent_id)
        current = get(session, current.parent_id)
    return seen
