"""HTTP routes for API keys (secretariat only)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from vpitracker.apikeys import service
from vpitracker.apikeys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from vpitracker.deps import PageDep, PageSecretariat, Secretariat, SessionDep
from vpitracker.errors import responses
from vpitracker.idempotency import IdempotencyDep
from vpitracker.pagination import Page
from vpitracker.resources import IdPath, page_read
from vpitracker.routing import ApiRoute

router = APIRouter(prefix="/v1/api-keys", tags=["api-keys"], route_class=ApiRoute)


@router.get("", operation_id="api-keys-list", responses=responses(401, 403, 422))
async def list_api_keys(
    request: Request,
    response: Response,
    session: SessionDep,
    caller: PageSecretariat,
    page: PageDep,
) -> Page[ApiKeyRead]:
    """List API keys (never their secrets)."""
    return await page_read(
        request,
        response,
        session,
        caller,
        Page[ApiKeyRead],
        lambda: service.list_keys(session, page=page),
    )


@router.post(
    "", operation_id="api-keys-create", status_code=201, responses=responses(401, 403, 422)
)
def create_api_key(
    body: ApiKeyCreate,
    session: SessionDep,
    actor: Secretariat,
    idem: IdempotencyDep,
    response: Response,
) -> ApiKeyCreated:
    """Create a read-only key; the secret `key` is returned only in this response.

    A replay (same `Idempotency-Key`) has `key: null` and `secret_omitted: ["key"]`.
    """
    key, secret = service.create(session, actor, body.name)
    read = ApiKeyCreated.model_validate({**key.model_dump(), "key": secret})
    return idem.created(response, read, f"/v1/api-keys/{key.id}", secret_fields=("key",))


@router.delete("/{key_id}", operation_id="api-keys-revoke", responses=responses(401, 403, 404, 422))
def revoke_api_key(key_id: IdPath, session: SessionDep, actor: Secretariat) -> ApiKeyRead:
    """Revoke a key: it stops working at once."""
    return ApiKeyRead.model_validate(service.revoke(session, actor, key_id))
