"""Ministries and the treaty provision catalogue."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer, String
from sqlmodel import Field, SQLModel

from vpitracker.models.base import UTCDateTime, utcnow


class Ministry(SQLModel, table=True):
    __tablename__ = "ministry"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_column=Column(String(32), nullable=False, unique=True))
    name: str = Field(sa_column=Column(String(300), nullable=False))
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    parent_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("ministry.id"), index=True)
    )
    contact_email: str | None = Field(default=None, sa_column=Column(String(320)))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    archived_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))


class Provision(SQLModel, table=True):
    __tablename__ = "provision"

    key: str = Field(sa_column=Column(String(32), primary_key=True))
    instrument: str = Field(sa_column=Column(String(32), nullable=False, index=True))
    article: str = Field(sa_column=Column(String(16), nullable=False))
    title: str = Field(sa_column=Column(String(500), nullable=False))
    cluster: int | None = Field(default=None, sa_column=Column(Integer, index=True))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
