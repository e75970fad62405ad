"""User request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, EmailStr, Field, StrictBool, StringConstraints

from vpitracker.types import Id, RequestModel, ShortText
from vpitracker.vocab import Role

Password = Annotated[str, StringConstraints(min_length=10, max_length=200)]
MinistryIds = Annotated[list[Id], Field(max_length=50)]


class UserCreate(RequestModel):
    email: EmailStr
    full_name: ShortText
    role: Role
    organization: ShortText | None = None
    ministry_ids: MinistryIds = Field(default_factory=list)
    password: Password
    is_active: StrictBool = True


class UserUpdate(RequestModel):
    email: EmailStr | None = None
    full_name: ShortText | None = None
    role: Role | None = None
    organization: ShortText | None = None
    ministry_ids: MinistryIds | None = None
    password: Password | None = None
    is_active: StrictBool | None = None


class UserRead(BaseModel):
    id: int
    email: str
    full_name: str
    role: Role
    organization: str | None
    ministry_ids: list[int]
    is_active: bool
    created_at: datetime
    updated_at: datetime
