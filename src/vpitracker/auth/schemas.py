"""Sign-in bodies."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, StrictBool

from vpitracker.types import RequestModel


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class Digest(StrEnum):
    weekly = "weekly"
    off = "off"


class Language(StrEnum):
    en = "en"
    sw = "sw"


class NotifyPrefs(BaseModel):
    """Which emails the user receives."""

    disputes: StrictBool = True
    digest: Digest = Digest.weekly


class NotifyPrefsUpdate(RequestModel):
    disputes: StrictBool | None = None
    digest: Digest | None = None


class MeUpdate(RequestModel):
    notify: NotifyPrefsUpdate | None = None
    language: Language | None = None


class Me(BaseModel):
    kind: Literal["user", "api_key"]
    id: int
    role: str
    email: str | None
    full_name: str | None
    organization: str | None
    ministry_ids: list[int]
    language: Language | None = None
    notify: NotifyPrefs | None = None
    version: int | None = Field(default=None, exclude=True)
