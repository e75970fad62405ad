"""HTTP routes for government commitments."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from vpitracker.commitments import service
from vpitracker.commitments.schemas import CommitmentCreate, CommitmentRead, CommitmentUpdate
from vpitracker.deps import (
    AsOf,
    CommitmentFiltersDep,
    IfMatch,
    PageDep,
    Reader,
    Secretariat,
    SessionDep,
    SettingsDep,
)
from vpitracker.errors import responses
from vpitracker.idempotency import IdempotencyDep
from vpitracker.kernel.clock import Clock
from vpitracker.pagination import Page, link_next
from vpitracker.versioning import etag

router = APIRouter(prefix="/v1/commitments", tags=["commitments"])
CommitmentId = Annotated[int, Path(ge=1, le=2**31 - 1)]
OptionalId = Annotated[int | None, Query(ge=1, le=2**31 - 1)]


def respond(
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
    commitment_id: int,
    as_of: date | None = None,
) -> CommitmentRead:
    read, version = service.read(session, commitment_id, Clock.at(as_of, settings.stale_after_days))
    response.headers["ETag"] = etag(version)
    return read


@router.get("", operation_id="commitments-list", responses=responses(401, 403, 422))
def list_commitments(
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    _actor: Reader,
    page: PageDep,
    filters: CommitmentFiltersDep,
    as_of: AsOf = None,
) -> Page[CommitmentRead]:
    """List commitments with derived state (sort: id, code, due_date, committed_on, created_at)."""
    items, next_cursor = service.list_commitments(
        session, clock=Clock.at(as_of, settings.stale_after_days), filters=filters, page=page
    )
    link_next(request, response, next_cursor)
    return Page[CommitmentRead](items=items, next_cursor=next_cursor)


@router.post(
    "", operation_id="commitments-create", status_code=201, responses=responses(401, 403, 409, 422)
)
def create_commitment(
    body: CommitmentCreate,
    session: SessionDep,
    settings: SettingsDep,
    actor: Secretariat,
    idem: IdempotencyDep,
    response: Response,
) -> CommitmentRead:
    """Record a government commitment."""
    commitment = service.create(session, actor, body)
    assert commitment.id is not None
    read = respond(session, settings, response, commitment.id)
    return idem.created(response, read, f"/v1/commitments/{commitment.id}")


@router.get(
    "/{commitment_id}", operation_id="commitments-get", responses=responses(401, 403, 404, 422)
)
def get_commitment(
    commitment_id: CommitmentId,
    session: SessionDep,
    settings: SettingsDep,
    _actor: Reader,
    response: Response,
    as_of: AsOf = None,
) -> CommitmentRead:
    """Read one commitment with its derived state (optionally as of a past day)."""
    return respond(session, settings, response, commitment_id, as_of)


@router.patch(
    "/{commitment_id}",
    operation_id="commitments-update",
    responses=responses(401, 403, 404, 409, 412, 422, 428),
)
def update_commitment(
    commitment_id: CommitmentId,
    body: CommitmentUpdate,
    session: SessionDep,
    settings: SettingsDep,
    actor: Secretariat,
    response: Response,
    if_match: IfMatch = None,
) -> CommitmentRead:
    """Edit a commitment; needs ``If-Match``."""
    service.update(session, actor, commitment_id, body, if_match)
    return respond(session, settings, response, commitment_id)


@router.post(
    "/{commitment_id}/archive",
    operation_id="commitments-archive",
    responses=responses(401, 403, 404, 422),
)
def archive_commitment(
    commitment_id: CommitmentId,
    session: SessionDep,
    settings: SettingsDep,
    actor: Secretariat,
    response: Response,
) -> CommitmentRead:
    """Archive a commitment (hidden from lists and figures unless include_archived=true)."""
    service.archive(session, actor, commitment_id)
    return respond(session, settings, response, commitment_id)
