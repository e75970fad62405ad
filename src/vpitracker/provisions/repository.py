"""Provision queries."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from sqlalchemy import Row, Select, bindparam
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from vpitracker.models import Provision, table_of
from vpitracker.pagination import PageRequest, keyset, keyset_params, page_rows
from vpitracker.records import by_key

SORTS = {"key": col(Provision.key), "instrument": col(Provision.instrument)}


def get(session: Session, key: str, *, for_update: bool = False) -> Provision | None:
    return by_key(session, Provision, key, for_update=for_update)


def existing_keys(session: Session, keys: Iterable[str]) -> set[str]:
    keys = list(keys)
    if not keys:
        return set()
    return set(session.exec(select(Provision.key).where(col(Provision.key).in_(keys))).all())


@lru_cache(maxsize=64)
def _page(instrument: bool, cluster: bool, sort: str, after: bool) -> Select[*tuple[Any, ...]]:
    """A list page's statement, built once per shape: the values are bound."""
    stmt: Select[*tuple[Any, ...]] = sa_select(*table_of(Provision).c)
    if instrument:
        stmt = stmt.where(col(Provision.instrument) == bindparam("vpi_instrument"))
    if cluster:
        stmt = stmt.where(col(Provision.cluster) == bindparam("vpi_cluster"))
    # Keys are the identity here: the key itself breaks ties.
    return keyset(stmt, sort=sort, after=after, sort_columns=SORTS, id_column=col(Provision.key))


def list_provisions(
    session: Session,
    *,
    instrument: str | None,
    cluster: int | None,
    page: PageRequest,
) -> tuple[list[Row[*tuple[Any, ...]]], str | None]:
    """One page of provision rows (the table's columns, not ORM entities: only read)."""
    params = keyset_params(page, sort_columns=SORTS, id_column=col(Provision.key))
    if instrument is not None:
        params["vpi_instrument"] = instrument
    if cluster is not None:
        params["vpi_cluster"] = cluster
    stmt = _page(instrument is not None, cluster is not None, page.sort, page.after)
    return page_rows(session, stmt, params, page=page)
