"""HTTP routes for webhook subscriptions (secretariat only)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from vpitracker.deps import IfMatch, PageDep, PageSecretariat, Secretariat, SessionDep, SettingsDep
from vpitracker.errors import responses
from vpitracker.idempotency import IdempotencyDep
from vpitracker.notifications import webhooks as service
from vpitracker.notifications.schemas import (
    DeliveryRead,
    WebhookCreate,
    WebhookRead,
    WebhookUpdate,
    WebhookWithSecret,
)
from vpitracker.pagination import Page
from vpitracker.resources import IdPath, etagged, page_read
from vpitracker.routing import ApiRoute

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], route_class=ApiRoute)


@router.get("", operation_id="webhooks-list", responses=responses(401, 403, 422))
async def list_webhooks(
    request: Request,
    response: Response,
    session: SessionDep,
    caller: PageSecretariat,
    page: PageDep,
) -> Page[WebhookRead]:
    """List webhook subscriptions."""
    return await page_read(
        request,
        response,
        session,
        caller,
        Page[WebhookRead],
        lambda: service.list_subscriptions(session, page=page),
    )


@router.post(
    "", operation_id="webhooks-create", status_code=201, responses=responses(401, 403, 422)
)
def create_webhook(
    body: WebhookCreate,
    session: SessionDep,
    settings: SettingsDep,
    actor: Secretariat,
    idem: IdempotencyDep,
    response: Response,
) -> WebhookWithSecret:
    """Subscribe a URL to events; the response carries the signing secret this once."""
    sub, secret = service.create(session, settings, actor, body)
    return idem.created(
        response,
        etagged(response, sub.version, service.with_secret(sub, secret)),
        f"/v1/webhooks/{sub.id}",
        secret_fields=("secret",),
    )


@router.get(
    "/{subscription_id}", operation_id="webhooks-get", responses=responses(401, 403, 404, 422)
)
def get_webhook(
    subscription_id: IdPath, session: SessionDep, _actor: Secretariat, response: Response
) -> WebhookRead:
    """Read one webhook subscription (never its secret)."""
    sub = service.get(session, subscription_id)
    return etagged(response, sub.version, service.read(sub))


@router.patch(
    "/{subscription_id}",
    operation_id="webhooks-update",
    responses=responses(401, 403, 404, 412, 422, 428),
)
def update_webhook(
    subscription_id: IdPath,
    body: WebhookUpdate,
    session: SessionDep,
    settings: SettingsDep,
    actor: Secretariat,
    response: Response,
    if_match: IfMatch = None,
) -> WebhookRead:
    """Edit a subscription (``active=true`` re-enables it); needs ``If-Match``."""
    sub = service.update(session, settings, actor, subscription_id, body, if_match)
    return etagged(response, sub.version, service.read(sub))


@router.delete(
    "/{subscription_id}",
    operation_id="webhooks-delete",
    status_code=204,
    responses=responses(401, 403, 404, 422),
)
def delete_webhook(subscription_id: IdPath, session: SessionDep, actor: Secretariat) -> Response:
    """Delete a subscription; its pending deliveries are dropped."""
    service.delete(session, actor, subscription_id)
    return Response(status_code=204)


@router.post(
    "/{subscription_id}/rotate-secret",
    operation_id="webhooks-rotate-secret",
    responses=responses(401, 403, 404, 422),
)
def rotate_secret(
    subscription_id: IdPath,
    session: SessionDep,
    settings: SettingsDep,
    actor: Secretariat,
) -> WebhookWithSecret:
    """Replace the signing secret; the new one is shown this once."""
    sub, secret = service.rotate(session, settings, actor, subscription_id)
    return service.with_secret(sub, secret)


@router.post(
    "/{subscription_id}/ping",
    operation_id="webhooks-ping",
    status_code=202,
    responses=responses(401, 403, 404, 422),
)
def ping_webhook(subscription_id: IdPath, session: SessionDep, actor: Secretariat) -> DeliveryRead:
    """Queue a signed ``ping`` event to this subscription."""
    return service.ping(session, actor, subscription_id)


@router.get(
    "/{subscription_id}/deliveries",
    operation_id="webhooks-deliveries",
    responses=responses(401, 403, 404, 422),
)
async def list_deliveries(
    subscription_id: IdPath,
    request: Request,
    response: Response,
    session: SessionDep,
    caller: PageSecretariat,
    page: PageDep,
) -> Page[DeliveryRead]:
    """This subscription's deliveries with their attempts."""
    return await page_read(
        request,
        response,
        session,
        caller,
        Page[DeliveryRead],
        lambda: service.list_deliveries(session, subscription_id, page=page),
    )


@router.post(
    "/{subscription_id}/deliveries/{delivery_id}/retry",
    operation_id="webhooks-delivery-retry",
    status_code=202,
    responses=responses(401, 403, 404, 422),
)
def retry_delivery(
    subscription_id: IdPath,
    delivery_id: IdPath,
    session: SessionDep,
    actor: Secretariat,
) -> DeliveryRead:
    """Send a delivery again at the worker's next pass."""
    return service.retry(session, actor, subscription_id, delivery_id)
