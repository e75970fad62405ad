"""People who sign in, their ministries, and sign-in failures."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from vpitracker.models.base import UTCDateTime, VersionedRecord, utcnow

DEFAULT_NOTIFY = '{"digest":"weekly","disputes":true}'


class User(VersionedRecord, table=True):
    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    # Stored lower-cased, so uniqueness is case-insensitive on both databases.
    email: str = Field(sa_column=Column(String(320), nullable=False, unique=True))
    full_name: str = Field(sa_column=Column(String(200), nullable=False))
    role: str = Field(sa_column=Column(String(32), nullable=False))
    organization: str | None = Field(default=None, sa_column=Column(String(300)))
    password_hash: str = Field(sa_column=Column(String(200), nullable=False))
    is_active: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    language: str = Field(
        default="en", sa_column=Column(String(8), nullable=False, server_default="en")
    )
    # JSON: {"disputes": bool, "digest": "weekly" | "off"}
    notify: str = Field(
        default=DEFAULT_NOTIFY,
        sa_column=Column(Text, nullable=False, server_default=DEFAULT_NOTIFY),
    )
    # Copied into every token; bumping it voids all tokens issued before.
    credential_version: int = Field(
        default=1, sa_column=Column(Integer, nullable=False, server_default="1")
    )


class UserMinistry(SQLModel, table=True):
    __tablename__ = "user_ministry"

    user_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
        )
    )
    ministry_id: int = Field(
        sa_column=Column(Integer, ForeignKey("ministry.id"), primary_key=True, index=True)
    )


class LoginFailure(SQLModel, table=True):
    """One failed sign-in; the throttle counts these (shared by every server process)."""

    __tablename__ = "login_failure"
    __table_args__ = (
        Index("ix_login_failure_account_at", "account", "at"),
        Index("ix_login_failure_account_address_at", "account", "address", "at"),
        Index("ix_login_failure_address_at", "address", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # A keyed hash of the name typed at sign-in, never the text (it may be a password).
    account: str = Field(sa_column=Column(String(64), nullable=False))
    address: str = Field(sa_column=Column(String(64), nullable=False))
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class ApiKey(SQLModel, table=True):
    """Read-only machine access for dashboards; the secret is stored hashed."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(200), nullable=False))
    prefix: str = Field(sa_column=Column(String(16), nullable=False))
    # SHA-256 of a 256-bit random secret: a slow hash adds nothing at that entropy.
    key_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    created_by: int = Field(
        sa_column=Column(Integer, ForeignKey("user_account.id"), nullable=False)
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    last_used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
