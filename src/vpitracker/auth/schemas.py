"""Sign-in bodies."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class Me(BaseModel):
    kind: Literal["user", "api_key"]
    id: int
    role: str
    email: str | None
    full_name: str | None
    organization: str | None
    ministry_ids: list[int]
