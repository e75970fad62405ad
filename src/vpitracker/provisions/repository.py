"""Provision queries."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, col, select

from vpitracker.models import Provision
from vpitracker.pagination import PageRequest, paginate
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
) -> tuple[list[Provision], str | None]:
    stmt = select(Provision)
    if instrument is not None:
        stmt = stmt.where(Provision.instrument == instrument)
    if cluster is not None:
        stmt = stmt.where(Provision.cluster == cluster)
    # Keys are the identity here: the key itself breaks ties.
    return paginate(session, stmt, page=page, sort_columns=SORTS, id_column=col(Provision.key))
