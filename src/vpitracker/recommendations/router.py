"""HTTP routes for civil society's recommendations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from vpitracker.deps import (
    AsOf,
    IfMatch,
    IncludeArchived,
    PageDep,
    PageReader,
    Reader,
    Secretariat,
    SessionDep,
    SettingsDep,
)
from vpitracker.errors import responses
from vpitracker.idempotency import IdempotencyDep
from vpitracker.kernel.clock import Clock
from vpitracker.kernel.filters import RecommendationFilters
from vpitracker.pagination import Page
from vpitracker.recommendations import service
from vpitracker.recommendations.schemas import (
    RecommendationCreate,
    RecommendationRead,
    RecommendationUpdate,
)
from vpitracker.resources import ClockDep, IdPath, NowDep, clock_as_of, etagged, page_read
from vpitracker.routing import ApiRoute
from vpitracker.vocab import GovernmentResponse, Implementation, Instrument, Priority

router = APIRouter(prefix="/v1/recommendations", tags=["recommendations"], route_class=ApiRoute)


def respond(
    session: SessionDep, clock: Clock, response: Response, recommendation_id: int
) -> RecommendationRead:
    read, version = service.read(session, recommendation_id, clock)
    return etagged(response, version, read)


@router.get("", operation_id="recommendations-list", responses=responses(401, 403, 422))
async def list_recommendations(
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    caller: PageReader,
    page: PageDep,
    q: Annotated[str | None, Query(max_length=200, description="Title or text contains")] = None,
    provision: Annotated[str | None, Query(max_length=32, description="A provision key")] = None,
    cluster: Annotated[int | None, Query(ge=1, le=4)] = None,
    instrument: Instrument | None = None,
    priority: Priority | None = None,
    government_response: GovernmentResponse | None = None,
    implementation: Implementation | None = None,
    ministry_id: Annotated[
        int | None,
        Query(ge=1, le=2**31 - 1, description="With a commitment this ministry leads or supports"),
    ] = None,
    # Not ClockDep: the published document lists as_of between the filters.
    as_of: AsOf = None,
    include_archived: IncludeArchived = False,
) -> Page[RecommendationRead]:
    """List recommendations with implementation state (sort: id, code, created_at)."""
    filters = RecommendationFilters(
        q=q,
        provision=provision,
        cluster=cluster,
        instrument=instrument.value if instrument else None,
        priority=priority.value if priority else None,
        government_response=government_response.value if government_response else None,
        implementation=implementation.value if implementation else None,
        ministry_id=ministry_id,
        include_archived=include_archived,
    )
    clock = clock_as_of(settings, as_of)
    return await page_read(
        request,
        response,
        session,
        caller,
        Page[RecommendationRead],
        lambda: service.list_recommendations(session, clock=clock, filters=filters, page=page),
    )


@router.post(
    "",
    operation_id="recommendations-create",
    status_code=201,
    responses=responses(401, 403, 409, 422),
)
def create_recommendation(
    body: RecommendationCreate,
    session: SessionDep,
    clock: NowDep,
    actor: Secretariat,
    idem: IdempotencyDep,
    response: Response,
) -> RecommendationRead:
    """Record a recommendation."""
    rec = service.create(session, actor, body)
    assert rec.id is not None
    read = respond(session, clock, response, rec.id)
    return idem.created(response, read, f"/v1/recommendations/{rec.id}")


@router.get(
    "/{recommendation_id}",
    operation_id="recommendations-get",
    responses=responses(401, 403, 404, 422),
)
def get_recommendation(
    recommendation_id: IdPath,
    session: SessionDep,
    clock: ClockDep,
    _actor: Reader,
    response: Response,
) -> RecommendationRead:
    """Read one recommendation."""
    return respond(session, clock, response, recommendation_id)


@router.patch(
    "/{recommendation_id}",
    operation_id="recommendations-update",
    responses=responses(401, 403, 404, 409, 412, 422, 428),
)
def update_recommendation(
    recommendation_id: IdPath,
    body: RecommendationUpdate,
    session: SessionDep,
    clock: NowDep,
    actor: Secretariat,
    response: Response,
    if_match: IfMatch = None,
) -> RecommendationRead:
    """Edit a recommendation; needs ``If-Match``."""
    service.update(session, actor, recommendation_id, body, if_match)
    return respond(session, clock, response, recommendation_id)


@router.post(
    "/{recommendation_id}/archive",
    operation_id="recommendations-archive",
    responses=responses(401, 403, 404, 422),
)
def archive_recommendation(
    recommendation_id: IdPath,
    session: SessionDep,
    clock: NowDep,
    actor: Secretariat,
    response: Response,
) -> RecommendationRead:
    """Archive a recommendation."""
    service.archive(session, actor, recommendation_id)
    return respond(session, clock, response, recommendation_id)
