"""The government's status updates and the alliance's assessments (append-only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from vpitracker.models.base import UTCDateTime, utcnow


class StatusUpdate(SQLModel, table=True):
    __tablename__ = "status_update"
    __table_args__ = (
        Index("ix_status_update_commitment_reported", "commitment_id", "reported_at", "id"),
        Index("ix_status_update_reported_at", "reported_at", "id"),
        Index("ix_status_update_ministry_reported", "ministry_id", "reported_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    commitment_id: int = Field(
        sa_column=Column(Integer, ForeignKey("commitment.id"), nullable=False)
    )
    ministry_id: int = Field(
        sa_column=Column(Integer, ForeignKey("ministry.id"), nullable=False, index=True)
    )
    status: str = Field(sa_column=Column(String(32), nullable=False))
    progress_percent: int = Field(sa_column=Column(Integer, nullable=False))
    summary: str = Field(sa_column=Column(Text, nullable=False))
    evidence: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    in_reply_to_assessment_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("assessment.id", use_alter=True), nullable=True, index=True
        ),
    )
    reported_by: int = Field(
        sa_column=Column(Integer, ForeignKey("user_account.id"), nullable=False, index=True)
    )
    reported_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    imported: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))


class Assessment(SQLModel, table=True):
    __tablename__ = "assessment"
    __table_args__ = (
        Index("ix_assessment_commitment_assessed", "commitment_id", "assessed_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    commitment_id: int = Field(
        sa_column=Column(Integer, ForeignKey("commitment.id"), nullable=False)
    )
    status_update_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("status_update.id"), nullable=True, index=True),
    )
    verdict: str = Field(sa_column=Column(String(32), nullable=False))
    assessed_status: str = Field(sa_column=Column(String(32), nullable=False))
    rationale: str = Field(sa_column=Column(Text, nullable=False))
    evidence: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    assessed_by: int = Field(
        sa_column=Column(Integer, ForeignKey("user_account.id"), nullable=False, index=True)
    )
    assessed_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    imported: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
