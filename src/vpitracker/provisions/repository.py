"""Provision queries."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Row, Select
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from vpitracker.models import Provision, table_of
from vpitracker.pagination import PageRequest, paginate_rows
from vpitracker.records import by_key

SORTS = {"key": col(Provision.key), "instrument": col(Provision.instrument)}


def get(session: Session, key: str, *, for_update: bool = False) -> Provision | None:
    return by_key(session, Provision, key, for_update=for_update)


def existing_keys(session: Session, keys: Iterable[str]) -> set[str]:
    keys = list(keys)
    if not keys:
        return set()
    return set(session.exec(select(Provision.key).where(col(Provision.key).in_(keys))).all())


def list_provisions(
    session: Session,
    *,
    instrument: str | None,
    cluster: int | None,
    page: PageRequest,
) -> tuple[list[Row[*tuple[Any, ...]]], str | None]:
    """One page of provision rows (the table's columns, not ORM entities: only read)."""
    stmt: Select[*tuple[Any, ...]] = sa_select(*table_of(Provision).c)
    if instrument is not None:
        stmt = stmt.where(col(Provision.instrument) == instrument)
    if cluster is not None:
        stmt = stmt.where(col(Provision.cluster) == cluster)
    # Keys are the identity here: the key itself breaks ties.
    return paginate_rows(session, stmt, page=page, sort_columns=SORTS, id_column=col(Provision.key))
