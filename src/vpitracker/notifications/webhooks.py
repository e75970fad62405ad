"""Webhook subscriptions (secretariat): rules, secrets and manual retries."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session

from vpitracker.audit import service as audit
from vpitracker.config import Settings
from vpitracker.errors import Invalid, NotFound
from vpitracker.jsonutil import plain
from vpitracker.kernel.actor import Actor
from vpitracker.models import Ministry, WebhookDelivery, WebhookSubscription, utcnow
from vpitracker.notifications import addresses, repository, signing
from vpitracker.notifications.schemas import (
    DeliveryRead,
    WebhookCreate,
    WebhookRead,
    WebhookUpdate,
    WebhookWithSecret,
)
from vpitracker.outbox import service as outbox
from vpitracker.outbox.events import EventType, parse_list
from vpitracker.pagination import PageRequest
from vpitracker.records import apply_changes, or_404, patch_changes
from vpitracker.vocab import EntityType

# Never in the audit log: the secret, even encrypted, and the worker's lease.
_NOT_AUDITED = frozenset({"secret_encrypted", "lease_until"})
_LISTS = ("events", "ministry_ids")


def _audit(
    session: Session,
    actor: Actor | None,
    action: str,
    sub: WebhookSubscription,
    data: dict[str, Any],
) -> None:
    """One ``webhook_subscription.<action>`` event (secretariat-only, notifies nobody)."""
    assert sub.id is not None
    assert not _NOT_AUDITED & data.keys()
    audit.record(
        session,
        actor,
        f"webhook_subscription.{action}",
        EntityType.webhook_subscription,
        sub.id,
        data,
        actor_type="worker",
    )


def _snapshot(sub: WebhookSubscription) -> dict[str, Any]:
    """The subscription as audited: every column but the secret, lists as lists."""
    row = audit.snapshot(sub, exclude=_NOT_AUDITED)
    return {**row, **{k: parse_list(row[k]) for k in _LISTS}}


def _readable(changed: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A PATCH's changes with the stored JSON lists shown as lists."""
    return {
        k: {side: parse_list(v) for side, v in d.items()} if k in _LISTS else d
        for k, d in changed.items()
    }


def _check_url(url: str, settings: Settings) -> None:
    try:
        addresses.check(url, settings)
    except addresses.AddressRefused as exc:
        raise Invalid(exc.template, loc=["body", "url"], **exc.params) from exc


def _check_ministries(session: Session, ministry_ids: list[int]) -> None:
    for ministry_id in ministry_ids:
        if session.get(Ministry, ministry_id) is None:
            raise Invalid(
                "No ministry with id %(id)s", loc=["body", "ministry_ids"], id=ministry_id
            )


def read(sub: WebhookSubscription) -> WebhookRead:
    assert sub.id is not None
    return WebhookRead(
        id=sub.id,
        url=sub.url,
        events=[EventType(e) for e in parse_list(sub.events)],
        ministry_ids=parse_list(sub.ministry_ids),
        description=sub.description,
        active=sub.active,
        created_by=sub.created_by,
        created_at=sub.created_at,
        updated_at=sub.updated_at,
        failure_count=sub.failure_count,
        disabled_at=sub.disabled_at,
        disabled_reason=sub.disabled_reason,
    )


def with_secret(sub: WebhookSubscription, secret: str) -> WebhookWithSecret:
    return WebhookWithSecret(**read(sub).model_dump(), secret=secret)


def create(
    session: Session, settings: Settings, actor: Actor, data: WebhookCreate
) -> tuple[WebhookSubscription, str]:
    """A new subscription and its signing secret (returned only now)."""
    _check_url(data.url, settings)
    _check_ministries(session, data.ministry_ids)
    secret = signing.new_secret()
    sub = WebhookSubscription(
        url=data.url,
        events=json.dumps(sorted({e.value for e in data.events})),
        ministry_ids=json.dumps(sorted(set(data.ministry_ids))),
        description=data.description,
        secret_encrypted=signing.encrypt(settings.secret_key, secret),
        created_by=actor.id,
    )
    session.add(sub)
    session.flush()
    _audit(session, actor, "created", sub, _snapshot(sub))
    return sub, secret


def get(session: Session, subscription_id: int) -> WebhookSubscription:
    sub = session.get(WebhookSubscription, subscription_id)
    return or_404(sub, "No webhook subscription with id %(id)s", id=subscription_id)


def list_subscriptions(
    session: Session, *, page: PageRequest
) -> tuple[list[WebhookRead], str | None]:
    rows, next_cursor = repository.list_subscriptions(session, page=page)
    return [read(r) for r in rows], next_cursor


def update(
    session: Session,
    settings: Settings,
    actor: Actor,
    subscription_id: int,
    data: WebhookUpdate,
    if_match: str | None,
) -> WebhookSubscription:
    """Apply a PATCH guarded by ``If-Match``; ``active=true`` re-enables and clears the failure."""
    sub = get(session, subscription_id)
    changes = patch_changes(sub, if_match, data, not_null=WebhookUpdate.model_fields)
    if "url" in changes:
        _check_url(changes["url"], settings)
    if "events" in changes:
        changes["events"] = json.dumps(sorted({EventType(e).value for e in changes["events"]}))
    if "ministry_ids" in changes:
        _check_ministries(session, changes["ministry_ids"])
        changes["ministry_ids"] = json.dumps(sorted(set(changes["ministry_ids"])))
    if changes.get("active") is True and not sub.active:
        changes.update(disabled_at=None, disabled_reason=None, failure_count=0)
    changed = apply_changes(sub, changes)
    session.flush()
    if changed:
        _audit(session, actor, "updated", sub, _readable(changed))
    return sub


def delete(session: Session, actor: Actor, subscription_id: int) -> None:
    """Remove a subscription; its pending deliveries go with it. The audit keeps its last state."""
    sub = get(session, subscription_id)
    last = _snapshot(sub)
    session.delete(sub)
    session.flush()
    _audit(session, actor, "deleted", sub, last)


def rotate(
    session: Session, settings: Settings, actor: Actor, subscription_id: int
) -> tuple[WebhookSubscription, str]:
    """A new signing secret; the old one stops working at once. The audit says only that."""
    sub = get(session, subscription_id)
    secret = signing.new_secret()
    apply_changes(sub, {"secret_encrypted": signing.encrypt(settings.secret_key, secret)})
    session.flush()
    _audit(session, actor, "secret_rotated", sub, {"secret": {"old": "***", "new": "***"}})
    return sub, secret


def disable(session: Session, sub: WebhookSubscription, reason: str) -> None:
    """Switch a failing subscription off (the worker's write, audited as the worker's)."""
    fields = ("active", "disabled_at", "disabled_reason")
    before = {f: plain(getattr(sub, f)) for f in fields}
    sub.active = False
    sub.disabled_at = utcnow()
    sub.disabled_reason = reason[:500]
    sub.version += 1
    session.flush()
    changed = audit.diff(before, {f: plain(getattr(sub, f)) for f in fields})
    _audit(session, None, "disabled", sub, changed)


def ping(session: Session, actor: Actor, subscription_id: int) -> DeliveryRead:
    """Queue a ``ping`` for this subscription only; the worker sends it."""
    sub = get(session, subscription_id)
    assert sub.id is not None
    event = outbox.add(session, EventType.ping, outbox.head_data(session), subscription_id=sub.id)
    session.flush()
    assert event.id is not None
    delivery = WebhookDelivery(subscription_id=sub.id, outbox_event_id=event.id, type="ping")
    session.add(delivery)
    event.dispatched_at = utcnow()
    session.flush()
    _audit(
        session, actor, "pinged", sub, {"delivery_id": delivery.id, "event_id": event_id(event.id)}
    )
    return delivery_read(delivery)


def delivery_read(delivery: WebhookDelivery) -> DeliveryRead:
    assert delivery.id is not None
    done = delivery.delivered_at is not None or delivery.failed_at is not None
    return DeliveryRead(
        id=delivery.id,
        event_id=event_id(delivery.outbox_event_id),
        type=EventType(delivery.type),
        attempts=delivery.attempts,
        next_attempt_at=None if done else delivery.next_attempt_at,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        delivered_at=delivery.delivered_at,
        failed_at=delivery.failed_at,
        created_at=delivery.created_at,
    )


def event_id(outbox_event_id: int) -> str:
    """The ``webhook-id``: one per outbox event, the same on every retry."""
    return f"msg_{outbox_event_id}"


def list_deliveries(
    session: Session, subscription_id: int, *, page: PageRequest
) -> tuple[list[DeliveryRead], str | None]:
    get(session, subscription_id)
    rows, next_cursor = repository.list_deliveries(session, subscription_id, page=page)
    return [delivery_read(r) for r in rows], next_cursor


def retry(session: Session, actor: Actor, subscription_id: int, delivery_id: int) -> DeliveryRead:
    """Send this delivery again at the next worker pass (even if it was delivered)."""
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.subscription_id != subscription_id:
        raise NotFound(
            "No delivery %(delivery)s of webhook subscription %(id)s",
            delivery=delivery_id,
            id=subscription_id,
        )
    fields = ("delivered_at", "failed_at", "next_attempt_at")
    before = {f: plain(getattr(delivery, f)) for f in fields}
    delivery.delivered_at = None
    delivery.failed_at = None
    delivery.next_attempt_at = utcnow()
    session.add(delivery)
    session.flush()
    changed = audit.diff(before, {f: plain(getattr(delivery, f)) for f in fields})
    _audit(
        session,
        actor,
        "delivery_retried",
        get(session, subscription_id),
        {"delivery_id": delivery_id, **changed},
    )
    return delivery_read(delivery)
