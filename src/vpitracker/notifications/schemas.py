"""Webhook subscription, delivery and notification-preference bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StrictBool, StringConstraints

from vpitracker.outbox.events import EventType
from vpitracker.types import NO_SPACE, Id, RequestModel, ShortText

Url = Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=NO_SPACE)]
Events = Annotated[list[EventType], Field(min_length=1, max_length=len(EventType))]
MinistryIds = Annotated[list[Id], Field(max_length=100)]


class WebhookCreate(RequestModel):
    url: Url
    events: Events
    ministry_ids: MinistryIds = Field(
        default_factory=list, description="Only events about these ministries (empty: all)"
    )
    description: ShortText | None = None


class WebhookUpdate(RequestModel):
    url: Url | None = None
    events: Events | None = None
    ministry_ids: MinistryIds | None = None
    description: ShortText | None = None
    active: StrictBool | None = Field(
        default=None, description="true re-enables a disabled subscription"
    )


class WebhookRead(BaseModel):
    id: int
    url: str
    events: list[EventType]
    ministry_ids: list[int]
    description: str | None
    active: bool
    created_by: int
    created_at: datetime
    updated_at: datetime
    failure_count: int
    disabled_at: datetime | None
    disabled_reason: str | None


class WebhookWithSecret(WebhookRead):
    secret: str = Field(description="The whsec_ signing secret; shown only this once")


class DeliveryRead(BaseModel):
    id: int
    event_id: str = Field(description="The webhook-id header, the same on every retry")
    type: EventType
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    failed_at: datetime | None
    created_at: datetime
