"""The outbox, webhook subscriptions and their deliveries, queued mail, and what the
time-based checks already announced."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from vpitracker.models.base import UTCDateTime, VersionedRecord, utcnow


class OutboxEvent(SQLModel, table=True):
    """One notifiable event, written in the same transaction as the change behind it."""

    __tablename__ = "outbox_event"
    __table_args__ = (Index("ix_outbox_event_pending", "dispatched_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    type: str = Field(sa_column=Column(String(64), nullable=False))
    audit_seq: int | None = Field(default=None, sa_column=Column(Integer))
    commitment_id: int | None = Field(default=None, sa_column=Column(Integer))
    # JSON list: the ministries concerned (subscription filters, officers' mail).
    ministry_ids: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    # Only this subscription receives it (a ping); null means every matching one.
    subscription_id: int | None = Field(default=None, sa_column=Column(Integer))
    # The exact webhook body, canonical JSON, so every retry signs the same bytes.
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    dispatched_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class WebhookSubscription(VersionedRecord, table=True):
    __tablename__ = "webhook_subscription"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(sa_column=Column(String(2000), nullable=False))
    events: str = Field(sa_column=Column(Text, nullable=False))
    ministry_ids: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    description: str | None = Field(default=None, sa_column=Column(String(500)))
    active: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    # Fernet token of the whsec_ secret (key derived from VPI_SECRET_KEY).
    secret_encrypted: str = Field(sa_column=Column(Text, nullable=False))
    created_by: int = Field(
        sa_column=Column(Integer, ForeignKey("user_account.id"), nullable=False)
    )
    failure_count: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    disabled_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    disabled_reason: str | None = Field(default=None, sa_column=Column(String(500)))
    # A worker delivering to this subscription holds it until then (one at a time, in order).
    lease_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class WebhookDelivery(SQLModel, table=True):
    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_webhook_delivery_pending", "subscription_id", "delivered_at", "outbox_event_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    subscription_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("webhook_subscription.id", ondelete="CASCADE"), nullable=False
        )
    )
    outbox_event_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("outbox_event.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    type: str = Field(sa_column=Column(String(64), nullable=False))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    next_attempt_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    last_status_code: int | None = Field(default=None, sa_column=Column(Integer))
    last_error: str | None = Field(default=None, sa_column=Column(String(500)))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    # The retry schedule ran out; the subscription was disabled.
    failed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class MailMessage(SQLModel, table=True):
    """A rendered email waiting for (or done with) SMTP."""

    __tablename__ = "mail_message"
    __table_args__ = (Index("ix_mail_message_pending", "sent_at", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    to_address: str = Field(sa_column=Column(String(320), nullable=False))
    subject: str = Field(sa_column=Column(String(300), nullable=False))
    text_body: str = Field(sa_column=Column(Text, nullable=False))
    html_body: str = Field(sa_column=Column(Text, nullable=False))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    next_attempt_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    lease_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    last_error: str | None = Field(default=None, sa_column=Column(String(500)))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    failed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class NotifiedTransition(SQLModel, table=True):
    """A time-based transition already announced: each occurrence once, across restarts."""

    __tablename__ = "notified_transition"
    __table_args__ = (UniqueConstraint("commitment_id", "kind", "occurrence"),)

    id: int | None = Field(default=None, primary_key=True)
    commitment_id: int = Field(
        sa_column=Column(Integer, ForeignKey("commitment.id", ondelete="CASCADE"), nullable=False)
    )
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    # What makes this occurrence distinct: the due date, or the day the silence began.
    occurrence: str = Field(sa_column=Column(String(32), nullable=False))
    notified_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class DigestRun(SQLModel, table=True):
    """A weekly digest already queued (one per ISO week)."""

    __tablename__ = "digest_run"

    week: str = Field(sa_column=Column(String(16), primary_key=True))
    sent_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
