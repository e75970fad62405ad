"""Ministry request and response bodies."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr

from vpitracker.types import Id, RequestModel, ShortCode, ShortText
from vpitracker.vocab import MinistryKind


class MinistryCreate(RequestModel):
    code: ShortCode
    name: ShortText
    kind: MinistryKind
    parent_id: Id | None = None
    contact_email: EmailStr | None = None


class MinistryUpdate(RequestModel):
    code: ShortCode | None = None
    name: ShortText | None = None
    kind: MinistryKind | None = None
    parent_id: Id | None = None
    contact_email: EmailStr | None = None


class MinistryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    kind: MinistryKind
    parent_id: int | None
    contact_email: str | None
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None
