"""Notifications: the outbox, webhook subscriptions and deliveries, queued mail,
announced time-based transitions, digest runs; users gain language and notify.

Revision ID: 0004_notify
Revises: 0004_tlog
Create Date: 2026-12-02 04:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_notify"
down_revision: str | None = "0004_tlog"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "digest_run",
        sa.Column("week", sa.String(length=16), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("week", name=op.f("pk_digest_run")),
    )
    op.create_table(
        "mail_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("to_address", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_message")),
    )
    with op.batch_alter_table("mail_message", schema=None) as batch_op:
        batch_op.create_index(
            "ix_mail_message_pending", ["sent_at", "next_attempt_at"], unique=False
        )

    op.create_table(
        "outbox_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("audit_seq", sa.Integer(), nullable=True),
        sa.Column("commitment_id", sa.Integer(), nullable=True),
        sa.Column("ministry_ids", sa.Text(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_event")),
    )
    with op.batch_alter_table("outbox_event", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_event_pending", ["dispatched_at", "id"], unique=False)

    op.create_table(
        "webhook_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("events", sa.Text(), nullable=False),
        sa.Column("ministry_ids", sa.Text(), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("failure_count", sa.Integer(), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_reason", sa.String(length=500), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["user_account.id"],
            name=op.f("fk_webhook_subscription_created_by_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscription")),
    )
    op.create_table(
        "notified_transition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("commitment_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("occurrence", sa.String(length=32), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["commitment_id"],
            ["commitment.id"],
            name=op.f("fk_notified_transition_commitment_id_commitment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notified_transition")),
        sa.UniqueConstraint(
            "commitment_id", "kind", "occurrence", name=op.f("uq_notified_transition_commitment_id")
        ),
    )
    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("outbox_event_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["outbox_event_id"],
            ["outbox_event.id"],
            name=op.f("fk_webhook_delivery_outbox_event_id_outbox_event"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhook_subscription.id"],
            name=op.f("fk_webhook_delivery_subscription_id_webhook_subscription"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_delivery")),
    )
    with op.batch_alter_table("webhook_delivery", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_delivery_outbox_event_id"), ["outbox_event_id"], unique=False
        )
        batch_op.create_index(
            "ix_webhook_delivery_pending",
            ["subscription_id", "delivered_at", "outbox_event_id"],
            unique=False,
        )

    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("language", sa.String(length=8), server_default="en", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "notify",
                sa.Text(),
                server_default='{"digest":"weekly","disputes":true}',
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("notify")
        batch_op.drop_column("language")

    with op.batch_alter_table("webhook_delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_delivery_pending")
        batch_op.drop_index(batch_op.f("ix_webhook_delivery_outbox_event_id"))

    op.drop_table("webhook_delivery")
    op.drop_table("notified_transition")
    op.drop_table("webhook_subscription")
    with op.batch_alter_table("outbox_event", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_event_pending")

    op.drop_table("outbox_event")
    with op.batch_alter_table("mail_message", schema=None) as batch_op:
        batch_op.drop_index("ix_mail_message_pending")

    op.drop_table("mail_message")
    op.drop_table("digest_run")
