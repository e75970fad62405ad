"""Status update and assessment queries."""

from __future__ import annotations

from datetime import datetime
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import Select, bindparam, insert
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.sql.dml import ReturningInsert
from sqlmodel import Session, col, select

from vpitracker.models import Assessment, StatusUpdate, table_of
from vpitracker.pagination import PageRequest, keyset, keyset_params, page_rows

UPDATE_SORTS = {"reported_at": col(StatusUpdate.reported_at), "id": col(StatusUpdate.id)}
ASSESSMENT_SORTS = {"assessed_at": col(Assessment.assessed_at), "id": col(Assessment.id)}


@cache
def _report_insert(model: type[StatusUpdate] | type[Assessment]) -> ReturningInsert[tuple[int]]:
    table = table_of(model)
    return insert(table).returning(table.c.id)


def insert_report(session: Session, record: StatusUpdate | Assessment) -> None:
    """Write a new status update or assessment (never changed after) and set its id."""
    columns = sa_inspect(type(record)).column_attrs
    values = {c.key: getattr(record, c.key) for c in columns if c.key != "id"}
    record.id = session.execute(_report_insert(type(record)), values).scalar_one()


def get_assessment(session: Session, assessment_id: int) -> Assessment | None:
    return session.get(Assessment, assessment_id)


def get_update(session: Session, update_id: int) -> StatusUpdate | None:
    return session.get(StatusUpdate, update_id)


# Each listing's statement is built once per shape (which filters, sort, cursor or not);
# the request's values are bound.
_UPDATE_FILTERS = ("commitment_id", "ministry_id", "reported_by")


@lru_cache(maxsize=128)
def _updates_page(
    present: frozenset[str], since: bool, sort: str, after: bool
) -> Select[*tuple[Any, ...]]:
    stmt = select(StatusUpdate)
    for name in _UPDATE_FILTERS:
        if name in present:
            stmt = stmt.where(col(getattr(StatusUpdate, name)) == bindparam(f"vpi_{name}"))
    if since:
        stmt = stmt.where(col(StatusUpdate.reported_at) >= bindparam("vpi_since"))
    return keyset(
        stmt, sort=sort, after=after, sort_columns=UPDATE_SORTS, id_column=col(StatusUpdate.id)
    )


def list_updates(
    session: Session,
    *,
    commitment_id: int | None = None,
    ministry_id: int | None = None,
    reported_by: int | None = None,
    since: datetime | None = None,
    page: PageRequest,
) -> tuple[list[StatusUpdate], str | None]:
    params = keyset_params(page, sort_columns=UPDATE_SORTS, id_column=col(StatusUpdate.id))
    values = {
        "commitment_id": commitment_id,
        "ministry_id": ministry_id,
        "reported_by": reported_by,
    }
    present = frozenset(name for name, value in values.items() if value is not None)
    params |= {f"vpi_{name}": values[name] for name in present}
    if since is not None:
        params["vpi_since"] = since
    stmt = _updates_page(present, since is not None, page.sort, page.after)
    rows, next_cursor = page_rows(session, stmt, params, page=page)
    return [row[0] for row in rows], next_cursor


@lru_cache(maxsize=16)
def _assessments_page(sort: str, after: bool) -> Select[*tuple[Any, ...]]:
    stmt = select(Assessment).where(col(Assessment.commitment_id) == bindparam("vpi_commitment_id"))
    return keyset(
        stmt, sort=sort, after=after, sort_columns=ASSESSMENT_SORTS, id_column=col(Assessment.id)
    )


def list_assessments(
    session: Session, *, commitment_id: int, page: PageRequest
) -> tuple[list[Assessment], str | None]:
    params = keyset_params(page, sort_columns=ASSESSMENT_SORTS, id_column=col(Assessment.id))
    params["vpi_commitment_id"] = commitment_id
    stmt = _assessments_page(page.sort, page.after)
    rows, next_cursor = page_rows(session, stmt, params, page=page)
    return [row[0] for row in rows], next_cursor
