"""Audit chain bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class ActorRead(BaseModel):
    type: str
    id: int | None
    role: str | None


class AuditEventRead(BaseModel):
    seq: int
    at: datetime
    actor: ActorRead
    action: str
    entity_type: str
    entity_id: str
    data: dict[str, Any]
    prev_hash: str
    hash: str


class Head(BaseModel):
    seq: int
    hash: str


class VerifyResult(BaseModel):
    ok: bool
    checked: int
    head: Head
    first_bad_seq: int | None
    detail: str


class Change(BaseModel):
    seq: int
    at: datetime
    entity_type: str
    entity_id: str
    action: str


class ChangeFeed(BaseModel):
    items: list[Change]
    next_cursor: str


class InclusionProof(BaseModel):
    leaf_index: int
    tree_size: int
    hashes: list[str]


class ConsistencyProof(BaseModel):
    first: int
    second: int
    hashes: list[str]
