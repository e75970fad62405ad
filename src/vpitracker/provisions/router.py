"""HTTP routes for the treaty provision catalogue."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from vpitracker.deps import IfMatch, PageReader, Reader, Secretariat, SessionDep, page_request_for
from vpitracker.errors import responses
from vpitracker.idempotency import IdempotencyDep
from vpitracker.models import Provision
from vpitracker.pagination import Page, PageRequest, row_dicts
from vpitracker.provisions import service
from vpitracker.provisions.schemas import ProvisionCreate, ProvisionRead, ProvisionUpdate
from vpitracker.resources import etagged, page_read
from vpitracker.routing import ApiRoute
from vpitracker.vocab import CLUSTER_NAMES, Instrument

router = APIRouter(prefix="/v1/provisions", tags=["provisions"], route_class=ApiRoute)
ProvisionKeyPath = Annotated[str, Path(min_length=1, max_length=32)]
KeyPage = Annotated[PageRequest, Depends(page_request_for("key"))]


def _with_cluster_name(provision: Mapping[Any, Any]) -> dict[Any, Any]:
    """A provision's fields and its cluster's name (what ``ProvisionRead`` is made of)."""
    cluster = provision["cluster"]
    return {**provision, "cluster_name": CLUSTER_NAMES.get(cluster) if cluster else None}


def to_read(provision: Provision) -> ProvisionRead:
    return ProvisionRead.model_validate(_with_cluster_name(provision.model_dump()))


def _read(response: Response, provision: Provision) -> ProvisionRead:
    return etagged(response, provision.version, to_read(provision))


@router.get("", operation_id="provisions-list", responses=responses(401, 403, 422))
async def list_provisions(
    request: Request,
    response: Response,
    session: SessionDep,
    caller: PageReader,
    page: KeyPage,
    instrument: Instrument | None = None,
    cluster: Annotated[int | None, Query(ge=1, le=4)] = None,
) -> Page[ProvisionRead]:
    """List treaty provisions (sort: key, instrument; default key)."""

    def read() -> tuple[list[dict[Any, Any]], str | None]:
        rows, next_cursor = service.list_provisions(
            session, instrument=instrument, cluster=cluster, page=page
        )
        return [_with_cluster_name(row) for row in row_dicts(rows)], next_cursor

    return await page_read(request, response, session, caller, Page[ProvisionRead], read)


@router.post(
    "", operation_id="provisions-create", status_code=201, responses=responses(401, 403, 409, 422)
)
def create_provision(
    body: ProvisionCreate,
    session: SessionDep,
    actor: Secretariat,
    idem: IdempotencyDep,
    response: Response,
) -> ProvisionRead:
    """Add a provision to the catalogue."""
    provision = service.create(session, actor, body)
    return idem.created(response, _read(response, provision), f"/v1/provisions/{provision.key}")


@router.get("/{key}", operation_id="provisions-get", responses=responses(401, 403, 404, 422))
def get_provision(
    key: ProvisionKeyPath, session: SessionDep, _actor: Reader, response: Response
) -> ProvisionRead:
    """Read one provision by key (e.g. TIP-6)."""
    return _read(response, service.get(session, key))


@router.patch(
    "/{key}",
    operation_id="provisions-update",
    responses=responses(401, 403, 404, 412, 422, 428),
)
def update_provision(
    key: ProvisionKeyPath,
    body: ProvisionUpdate,
    session: SessionDep,
    actor: Secretariat,
    response: Response,
    if_match: IfMatch = None,
) -> ProvisionRead:
    """Correct a provision (title, article, cluster); needs ``If-Match``."""
    return _read(response, service.update(session, actor, key, body, if_match))
