"""HTTP routes for user accounts (secretariat only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from vpitracker.deps import IfMatch, PageDep, PageSecretariat, Secretariat, SessionDep
from vpitracker.errors import responses
from vpitracker.idempotency import IdempotencyDep
from vpitracker.models import User
from vpitracker.pagination import Page
from vpitracker.resources import IdPath, etagged, page_read
from vpitracker.routing import ApiRoute
from vpitracker.users import service
from vpitracker.users.schemas import UserCreate, UserRead, UserUpdate
from vpitracker.vocab import Role

router = APIRouter(prefix="/v1/users", tags=["users"], route_class=ApiRoute)


def _read(session: SessionDep, response: Response, user: User) -> UserRead:
    return etagged(response, user.version, service.read(session, user))


@router.get("", operation_id="users-list", responses=responses(401, 403, 422))
async def list_users(
    request: Request,
    response: Response,
    session: SessionDep,
    caller: PageSecretariat,
    page: PageDep,
    role: Role | None = None,
    is_active: bool | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Name or email contains")] = None,
) -> Page[UserRead]:
    """List user accounts (sort: id, email)."""
    return await page_read(
        request,
        response,
        session,
        caller,
        Page[UserRead],
        lambda: service.list_users(session, role=role, is_active=is_active, q=q, page=page),
    )


@router.post(
    "", operation_id="users-create", status_code=201, responses=responses(401, 403, 409, 422)
)
def create_user(
    body: UserCreate,
    session: SessionDep,
    actor: Secretariat,
    idem: IdempotencyDep,
    response: Response,
) -> UserRead:
    """Create a user account."""
    user = service.create(session, actor, body)
    return idem.created(response, _read(session, response, user), f"/v1/users/{user.id}")


@router.get("/{user_id}", operation_id="users-get", responses=responses(401, 403, 404, 422))
def get_user(
    user_id: IdPath, session: SessionDep, _actor: Secretariat, response: Response
) -> UserRead:
    """Read one user account."""
    return _read(session, response, service.get(session, user_id))


@router.patch(
    "/{user_id}",
    operation_id="users-update",
    responses=responses(401, 403, 404, 409, 412, 422, 428),
)
def update_user(
    user_id: IdPath,
    body: UserUpdate,
    session: SessionDep,
    actor: Secretariat,
    response: Response,
    if_match: IfMatch = None,
) -> UserRead:
    """Edit a user account (deactivate with is_active=false); needs ``If-Match``."""
    return _read(session, response, service.update(session, actor, user_id, body, if_match))
