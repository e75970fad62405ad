"""Audit chain bodies."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from vpitracker.audit.service import Verification


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
    first_bad_seq: int | None = Field(
        description="The earliest seq that does not hold; null only when ok"
    )
    detail: str
    entity_type: str | None = Field(
        default=None, description="The record found at first_bad_seq (null for the chain itself)"
    )
    entity_id: str | None = Field(default=None, description="That record's id (or key)")

    @classmethod
    def of(cls, result: Verification) -> VerifyResult:
        """What the API and ``vpitracker audit verify`` both answer."""
        return cls(
            ok=result.ok,
            checked=result.checked,
            head=Head(seq=result.head_seq, hash=result.head_hash),
            first_bad_seq=result.first_bad_seq,
            detail=result.detail,
            entity_type=result.entity_type,
            entity_id=result.entity_id,
        )


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
