"""HTTP routes for ministries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from vpitracker.deps import (
    IfMatch,
    IncludeArchived,
    OptionalId,
    PageDep,
    PageReader,
    Reader,
    Secretariat,
    SessionDep,
)
from vpitracker.errors import responses
from vpitracker.idempotency import IdempotencyDep
from vpitracker.kernel.filters import MinistryFilters
from vpitracker.ministries import service
from vpitracker.ministries.schemas import MinistryCreate, MinistryRead, MinistryUpdate
from vpitracker.models import Ministry
from vpitracker.pagination import Page
from vpitracker.resources import IdPath, etagged, page_read
from vpitracker.routing import ApiRoute
from vpitracker.vocab import MinistryKind

router = APIRouter(prefix="/v1/ministries", tags=["ministries"], route_class=ApiRoute)


def _read(response: Response, ministry: Ministry) -> MinistryRead:
    return etagged(response, ministry.version, MinistryRead.model_validate(ministry))


@router.get("", operation_id="ministries-list", responses=responses(401, 403, 422))
async def list_ministries(
    request: Request,
    response: Response,
    session: SessionDep,
    caller: PageReader,
    page: PageDep,
    q: Annotated[str | None, Query(max_length=200, description="Code or name contains")] = None,
    kind: MinistryKind | None = None,
    parent_id: OptionalId = None,
    include_archived: IncludeArchived = False,
) -> Page[MinistryRead]:
    """List ministries (sort: id, code, name)."""
    filters = MinistryFilters(
        q=q, kind=kind, parent_id=parent_id, include_archived=include_archived
    )
    return await page_read(
        request,
        response,
        session,
        caller,
        Page[MinistryRead],
        lambda: service.list_ministries(session, filters=filters, page=page),
    )


@router.post(
    "", operation_id="ministries-create", status_code=201, responses=responses(401, 403, 409, 422)
)
def create_ministry(
    body: MinistryCreate,
    session: SessionDep,
    actor: Secretariat,
    idem: IdempotencyDep,
    response: Response,
) -> MinistryRead:
    """Create a ministry."""
    ministry = service.create(session, actor, body)
    return idem.created(response, _read(response, ministry), f"/v1/ministries/{ministry.id}")


@router.get(
    "/{ministry_id}", operation_id="ministries-get", responses=responses(401, 403, 404, 422)
)
def get_ministry(
    ministry_id: IdPath, session: SessionDep, _actor: Reader, response: Response
) -> MinistryRead:
    """Read one ministry."""
    return _read(response, service.get(session, ministry_id))


@router.patch(
    "/{ministry_id}",
    operation_id="ministries-update",
    responses=responses(401, 403, 404, 409, 412, 422, 428),
)
def update_ministry(
    ministry_id: IdPath,
    body: MinistryUpdate,
    session: SessionDep,
    actor: Secretariat,
    response: Response,
    if_match: IfMatch = None,
) -> MinistryRead:
    """Edit a ministry; needs ``If-Match``."""
    return _read(response, service.update(session, actor, ministry_id, body, if_match))


@router.post(
    "/{ministry_id}/archive",
    operation_id="ministries-archive",
    responses=responses(401, 403, 404, 422),
)
def archive_ministry(
    ministry_id: IdPath, session: SessionDep, actor: Secretariat, response: Response
) -> MinistryRead:
    """Archive a ministry (hidden from lists unless include_archived=true)."""
    return _read(response, service.archive(session, actor, ministry_id))
