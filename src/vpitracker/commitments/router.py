"""HTTP routes for government commitments."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from vpitracker.commitments import service
from vpitracker.commitments.schemas import CommitmentCreate, CommitmentRead, CommitmentUpdate
from vpitracker.deps import (
    CommitmentFiltersDep,
    IfMatch,
    PageDep,
    PageReader,
    Reader,
    Secretariat,
    SessionDep,
)
from vpitracker.errors import responses
from vpitracker.idempotency import IdempotencyDep
from vpitracker.kernel.clock import Clock
from vpitracker.pagination import Page
from vpitracker.resources import ClockDep, IdPath, NowDep, etagged, page_read
from vpitracker.routing import ApiRoute

router = APIRouter(prefix="/v1/commitments", tags=["commitments"], route_class=ApiRoute)


def respond(
    session: SessionDep, clock: Clock, response: Response, commitment_id: int
) -> CommitmentRead:
    read, version = service.read(session, commitment_id, clock)
    return etagged(response, version, read)


@router.get("", operation_id="commitments-list", responses=responses(401, 403, 422))
async def list_commitments(
    request: Request,
    response: Response,
    session: SessionDep,
    clock: ClockDep,
    caller: PageReader,
    page: PageDep,
    filters: CommitmentFiltersDep,
) -> Page[CommitmentRead]:
    """List commitments with derived state (sort: id, code, due_date, committed_on, created_at)."""
    return await page_read(
        request,
        response,
        session,
        caller,
        Page[CommitmentRead],
        lambda: service.list_commitments(session, clock=clock, filters=filters, page=page),
    )


@router.post(
    "", operation_id="commitments-create", status_code=201, responses=responses(401, 403, 409, 422)
)
def create_commitment(
    body: CommitmentCreate,
    session: SessionDep,
    clock: NowDep,
    actor: Secretariat,
    idem: IdempotencyDep,
    response: Response,
) -> CommitmentRead:
    """Record a government commitment."""
    commitment = service.create(session, actor, body)
    assert commitment.id is not None
    read = respond(session, clock, response, commitment.id)
    return idem.created(response, read, f"/v1/commitments/{commitment.id}")


@router.get(
    "/{commitment_id}", operation_id="commitments-get", responses=responses(401, 403, 404, 422)
)
def get_commitment(
    commitment_id: IdPath,
    session: SessionDep,
    clock: ClockDep,
    _actor: Reader,
    response: Response,
) -> CommitmentRead:
    """Read one commitment with its derived state (optionally as of a past day)."""
    return respond(session, clock, response, commitment_id)


@router.patch(
    "/{commitment_id}",
    operation_id="commitments-update",
    responses=responses(401, 403, 404, 409, 412, 422, 428),
)
def update_commitment(
    commitment_id: IdPath,
    body: CommitmentUpdate,
    session: SessionDep,
    clock: NowDep,
    actor: Secretariat,
    response: Response,
    if_match: IfMatch = None,
) -> CommitmentRead:
    """Edit a commitment; needs ``If-Match``."""
    service.update(session, actor, commitment_id, body, if_match)
    return respond(session, clock, response, commitment_id)


@router.post(
    "/{commitment_id}/archive",
    operation_id="commitments-archive",
    responses=responses(401, 403, 404, 422),
)
def archive_commitment(
    commitment_id: IdPath,
    session: SessionDep,
    clock: NowDep,
    actor: Secretariat,
    response: Response,
) -> CommitmentRead:
    """Archive a commitment (hidden from lists and figures unless include_archived=true)."""
    service.archive(session, actor, commitment_id)
    return respond(session, clock, response, commitment_id)
