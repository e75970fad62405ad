"""Status update and assessment queries."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from vpitracker.models import Assessment, StatusUpdate
from vpitracker.pagination import PageRequest, paginate

UPDATE_SORTS = {"reported_at": col(StatusUpdate.reported_at), "id": col(StatusUpdate.id)}
ASSESSMENT_SORTS = {"assessed_at": col(Assessment.assessed_at), "id": col(Assessment.id)}


def get_assessment(session: Session, assessment_id: int) -> Assessment | None:
    return session.get(Assessment, assessment_id)


def get_update(session: Session, update_id: int) -> StatusUpdate | None:
    return session.get(StatusUpdate, update_id)


def list_updates(
    session: Session,
    *,
    commitment_id: int | None = None,
    ministry_id: int | None = None,
    reported_by: int | None = None,
    since: datetime | None = None,
    page: PageRequest,
) -> tuple[list[StatusUpdate], str | None]:
    stmt = select(StatusUpdate)
    if commitment_id is not None:
        stmt = stmt.where(StatusUpdate.commitment_id == commitment_id)
    if ministry_id is not None:
        stmt = stmt.where(StatusUpdate.ministry_id == ministry_id)
    if reported_by is not None:
        stmt = stmt.where(StatusUpdate.reported_by == reported_by)
    if since is not None:
        stmt = stmt.where(col(StatusUpdate.reported_at) >= since)
    return paginate(
        session, stmt, page=page, sort_columns=UPDATE_SORTS, id_column=col(StatusUpdate.id)
    )


def list_assessments(
    session: Session, *, commitment_id: int, page: PageRequest
) -> tuple[list[Assessment], str | None]:
    stmt = select(Assessment).where(Assessment.commitment_id == commitment_id)
    return paginate(
        session, stmt, page=page, sort_columns=ASSESSMENT_SORTS, id_column=col(Assessment.id)
    )
