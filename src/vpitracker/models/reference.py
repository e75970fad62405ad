"""Ministries and the treaty provision catalogue."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String
from sqlmodel import Field

from vpitracker.models.base import ArchivableRecord, VersionedRecord


class Ministry(ArchivableRecord, table=True):
    __tablename__ = "ministry"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_column=Column(String(32), nullable=False, unique=True))
    name: str = Field(sa_column=Column(String(300), nullable=False))
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    parent_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("ministry.id"), index=True)
    )
    contact_email: str | None = Field(default=None, sa_column=Column(String(320)))


class Provision(VersionedRecord, table=True):
    __tablename__ = "provision"

    key: str = Field(sa_column=Column(String(32), primary_key=True))
    instrument: str = Field(sa_column=Column(String(32), nullable=False, index=True))
    article: str = Field(sa_column=Column(String(16), nullable=False))
    title: str = Field(sa_column=Column(String(500), nullable=False))
    cluster: int | None = Field(default=None, sa_column=Column(Integer, index=True))
