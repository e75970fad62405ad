"""HTTP routes for status updates and assessments (append-only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from vpitracker.deps import (
    Assessor,
    OptionalId,
    PageReader,
    Reader,
    Reporter,
    SessionDep,
    commits_on_return,
    page_request_for,
)
from vpitracker.errors import responses
from vpitracker.idempotency import IdempotencyDep
from vpitracker.pagination import Page, PageRequest
from vpitracker.reporting import service
from vpitracker.reporting.schemas import (
    AssessmentCreate,
    AssessmentRead,
    StatusUpdateCreate,
    StatusUpdateRead,
)
from vpitracker.resources import IdPath, page_read
from vpitracker.routing import ApiRoute
from vpitracker.types import IsoDateTime

router = APIRouter(prefix="/v1", tags=["reporting"], route_class=ApiRoute)
UpdatesPage = Annotated[PageRequest, Depends(page_request_for("-reported_at"))]
AssessmentsPage = Annotated[PageRequest, Depends(page_request_for("-assessed_at"))]


@router.get(
    "/commitments/{commitment_id}/status-updates",
    operation_id="status-updates-list-for-commitment",
    responses=responses(401, 403, 404, 422),
)
async def list_commitment_updates(
    commitment_id: IdPath,
    request: Request,
    response: Response,
    session: SessionDep,
    caller: PageReader,
    page: UpdatesPage,
) -> Page[StatusUpdateRead]:
    """A commitment's status updates, newest first (sort: reported_at, id)."""
    return await page_read(
        request,
        response,
        session,
        caller,
        Page[StatusUpdateRead],
        lambda: service.list_updates(session, commitment_id=commitment_id, page=page),
    )


@router.post(
    "/commitments/{commitment_id}/status-updates",
    operation_id="status-updates-create",
    status_code=201,
    responses=responses(401, 403, 404, 409, 422),
)
@commits_on_return
def post_status_update(
    commitment_id: IdPath,
    body: StatusUpdateCreate,
    session: SessionDep,
    actor: Reporter,
    idem: IdempotencyDep,
    response: Response,
) -> StatusUpdateRead:
    """Post the government's status report on a commitment (officers: their ministries' only)."""
    update = service.post_update(session, actor, commitment_id, body)
    read = StatusUpdateRead.model_validate(update)
    return idem.created(response, read, f"/v1/status-updates/{update.id}")


@router.get(
    "/status-updates", operation_id="status-updates-list", responses=responses(401, 403, 422)
)
async def list_status_updates(
    request: Request,
    response: Response,
    session: SessionDep,
    caller: PageReader,
    page: UpdatesPage,
    ministry_id: OptionalId = None,
    reported_by: OptionalId = None,
    since: Annotated[
        IsoDateTime | None,
        Query(description="Reported at or after (UTC unless an offset is given)"),
    ] = None,
) -> Page[StatusUpdateRead]:
    """Every status update, newest first (sort: reported_at, id)."""
    return await page_read(
        request,
        response,
        session,
        caller,
        Page[StatusUpdateRead],
        lambda: service.list_updates(
            session, ministry_id=ministry_id, reported_by=reported_by, since=since, page=page
        ),
    )


@router.get(
    "/status-updates/{update_id}",
    operation_id="status-updates-get",
    responses=responses(401, 403, 404, 422),
)
def get_status_update(update_id: IdPath, session: SessionDep, _actor: Reader) -> StatusUpdateRead:
    """Read one status update (where a posted update's ``Location`` points)."""
    return StatusUpdateRead.model_validate(service.get_update(session, update_id))


@router.get(
    "/assessments/{assessment_id}",
    operation_id="assessments-get-by-id",
    responses=responses(401, 403, 404, 422),
)
def get_assessment_by_id(
    assessment_id: IdPath, session: SessionDep, _actor: Reader
) -> AssessmentRead:
    """Read one assessment by its id alone (as the change feed names it)."""
    return AssessmentRead.model_validate(service.get_assessment_by_id(session, assessment_id))


@router.get(
    "/commitments/{commitment_id}/assessments",
    operation_id="assessments-list",
    responses=responses(401, 403, 404, 422),
)
async def list_assessments(
    commitment_id: IdPath,
    request: Request,
    response: Response,
    session: SessionDep,
    caller: PageReader,
    page: AssessmentsPage,
) -> Page[AssessmentRead]:
    """The alliance's assessments of a commitment, newest first (sort: assessed_at, id)."""
    return await page_read(
        request,
        response,
        session,
        caller,
        Page[AssessmentRead],
        lambda: service.list_assessments(session, commitment_id=commitment_id, page=page),
    )


@router.get(
    "/commitments/{commitment_id}/assessments/{assessment_id}",
    operation_id="assessments-get",
    responses=responses(401, 403, 404, 422),
)
def get_assessment(
    commitment_id: IdPath, assessment_id: IdPath, session: SessionDep, _actor: Reader
) -> AssessmentRead:
    """Read one assessment of a commitment (where a posted assessment's ``Location`` points)."""
    return AssessmentRead.model_validate(
        service.get_assessment(session, commitment_id, assessment_id)
    )


@router.post(
    "/commitments/{commitment_id}/assessments",
    operation_id="assessments-create",
    status_code=201,
    responses=responses(401, 403, 404, 409, 422),
)
@commits_on_return
def post_assessment(
    commitment_id: IdPath,
    body: AssessmentCreate,
    session: SessionDep,
    actor: Assessor,
    idem: IdempotencyDep,
    response: Response,
) -> AssessmentRead:
    """Post the alliance's assessment of a commitment."""
    assessment = service.post_assessment(session, actor, commitment_id, body)
    read = AssessmentRead.model_validate(assessment)
    return idem.created(
        response, read, f"/v1/commitments/{commitment_id}/assessments/{assessment.id}"
    )
