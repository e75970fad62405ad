"""The tamper-evident audit chain and idempotency records."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Column,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from vpitracker.models.base import UTCDateTime, utcnow


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_entity", "entity_type", "entity_id"),)

    seq: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    actor_type: str = Field(sa_column=Column(String(16), nullable=False))
    actor_id: int | None = Field(default=None, sa_column=Column(Integer))
    actor_role: str | None = Field(default=None, sa_column=Column(String(32)))
    action: str = Field(sa_column=Column(String(64), nullable=False))
    entity_type: str = Field(sa_column=Column(String(32), nullable=False))
    entity_id: str = Field(sa_column=Column(String(64), nullable=False))
    # Canonical JSON text, exactly as hashed.
    data: str = Field(sa_column=Column(Text, nullable=False))
    # Unique prev_hash and hash: two events can never claim the same parent (no fork).
    prev_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))


class MerkleNode(SQLModel, table=True):
    """A complete subtree of the audit Merkle tree: leaves [idx * 2**level, (idx+1) * 2**level)."""

    __tablename__ = "merkle_node"
    __table_args__ = (PrimaryKeyConstraint("level", "idx", name="pk_merkle_node"),)

    level: int = Field(sa_column=Column(SmallInteger, nullable=False))
    idx: int = Field(sa_column=Column(Integer, nullable=False))
    hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("scope", "key", name="uq_idempotency_record_scope_key"),)

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(sa_column=Column(String(64), nullable=False))
    key: str = Field(sa_column=Column(String(255), nullable=False))
    fingerprint: str = Field(sa_column=Column(String(64), nullable=False))
    status_code: int | None = Field(default=None, sa_column=Column(Integer))
    body: str | None = Field(default=None, sa_column=Column(Text))
    location: str | None = Field(default=None, sa_column=Column(String(500)))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False, index=True)
    )
