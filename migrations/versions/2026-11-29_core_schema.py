"""Core schema: reference data, oversight records, reporting, users, audit chain.

Loads the shipped provision catalogue.

Revision ID: 0001
Revises:
Create Date: 2026-11-29 04:12:29.684255
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import resources

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_type", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_role", sa.String(length=32), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity_type", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_event")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_event_hash")),
        sa.UniqueConstraint("prev_hash", name=op.f("uq_audit_event_prev_hash")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index("ix_audit_event_entity", ["entity_type", "entity_id"], unique=False)

    op.create_table(
        "idempotency_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("location", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_record")),
        sa.UniqueConstraint("scope", "key", name="uq_idempotency_record_scope_key"),
    )
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_record_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "login_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failure")),
    )
    with op.batch_alter_table("login_failure", schema=None) as batch_op:
        batch_op.create_index("ix_login_failure_address_at", ["address", "at"], unique=False)
        batch_op.create_index("ix_login_failure_email_at", ["email", "at"], unique=False)

    op.create_table(
        "ministry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("contact_email", sa.String(length=320), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["ministry.id"], name=op.f("fk_ministry_parent_id_ministry")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ministry")),
        sa.UniqueConstraint("code", name=op.f("uq_ministry_code")),
    )
    with op.batch_alter_table("ministry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ministry_parent_id"), ["parent_id"], unique=False)

    op.create_table(
        "provision",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("instrument", sa.String(length=32), nullable=False),
        sa.Column("article", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("cluster", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_provision")),
    )
    with op.batch_alter_table("provision", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_provision_cluster"), ["cluster"], unique=False)
        batch_op.create_index(batch_op.f("ix_provision_instrument"), ["instrument"], unique=False)

    op.create_table(
        "recommendation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("source_date", sa.Date(), nullable=True),
        sa.Column("raised_by", sa.JSON(), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("government_response", sa.String(length=32), nullable=False),
        sa.Column("response_note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recommendation")),
        sa.UniqueConstraint("code", name=op.f("uq_recommendation_code")),
    )
    with op.batch_alter_table("recommendation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recommendation_source_date"), ["source_date"], unique=False
        )

    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("organization", sa.String(length=300), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("email", name=op.f("uq_user_account_email")),
    )
    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user_account.id"], name=op.f("fk_api_key_created_by_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_key_key_hash")),
    )
    op.create_table(
        "commitment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("lead_ministry_id", sa.Integer(), nullable=False),
        sa.Column("committed_on", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("indicator", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_ministry_id"],
            ["ministry.id"],
            name=op.f("fk_commitment_lead_ministry_id_ministry"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commitment")),
        sa.UniqueConstraint("code", name=op.f("uq_commitment_code")),
    )
    with op.batch_alter_table("commitment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_commitment_committed_on"), ["committed_on"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_commitment_due_date"), ["due_date"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_commitment_lead_ministry_id"), ["lead_ministry_id"], unique=False
        )

    op.create_table(
        "recommendation_provision",
        sa.Column("recommendation_id", sa.Integer(), nullable=False),
        sa.Column("provision_key", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["provision_key"],
            ["provision.key"],
            name=op.f("fk_recommendation_provision_provision_key_provision"),
        ),
        sa.ForeignKeyConstraint(
            ["recommendation_id"],
            ["recommendation.id"],
            name=op.f("fk_recommendation_provision_recommendation_id_recommendation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "recommendation_id", "provision_key", name=op.f("pk_recommendation_provision")
        ),
    )
    with op.batch_alter_table("recommendation_provision", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recommendation_provision_provision_key"), ["provision_key"], unique=False
        )

    op.create_table(
        "user_ministry",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("ministry_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ministry_id"], ["ministry.id"], name=op.f("fk_user_ministry_ministry_id_ministry")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_user_ministry_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "ministry_id", name=op.f("pk_user_ministry")),
    )
    with op.batch_alter_table("user_ministry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_user_ministry_ministry_id"), ["ministry_id"], unique=False
        )

    op.create_table(
        "commitment_recommendation",
        sa.Column("commitment_id", sa.Integer(), nullable=False),
        sa.Column("recommendation_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["commitment_id"],
            ["commitment.id"],
            name=op.f("fk_commitment_recommendation_commitment_id_commitment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recommendation_id"],
            ["recommendation.id"],
            name=op.f("fk_commitment_recommendation_recommendation_id_recommendation"),
        ),
        sa.PrimaryKeyConstraint(
            "commitment_id", "recommendation_id", name=op.f("pk_commitment_recommendation")
        ),
    )
    with op.batch_alter_table("commitment_recommendation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_commitment_recommendation_recommendation_id"),
            ["recommendation_id"],
            unique=False,
        )

    op.create_table(
        "commitment_support",
        sa.Column("commitment_id", sa.Integer(), nullable=False),
        sa.Column("ministry_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["commitment_id"],
            ["commitment.id"],
            name=op.f("fk_commitment_support_commitment_id_commitment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ministry_id"],
            ["ministry.id"],
            name=op.f("fk_commitment_support_ministry_id_ministry"),
        ),
        sa.PrimaryKeyConstraint("commitment_id", "ministry_id", name=op.f("pk_commitment_support")),
    )
    with op.batch_alter_table("commitment_support", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_commitment_support_ministry_id"), ["ministry_id"], unique=False
        )

    op.create_table(
        "status_update",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("commitment_id", sa.Integer(), nullable=False),
        sa.Column("ministry_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("progress_percent", sa.Integer(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("in_reply_to_assessment_id", sa.Integer(), nullable=True),
        sa.Column("reported_by", sa.Integer(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["commitment_id"],
            ["commitment.id"],
            name=op.f("fk_status_update_commitment_id_commitment"),
        ),
        sa.ForeignKeyConstraint(
            ["ministry_id"], ["ministry.id"], name=op.f("fk_status_update_ministry_id_ministry")
        ),
        sa.ForeignKeyConstraint(
            ["reported_by"],
            ["user_account.id"],
            name=op.f("fk_status_update_reported_by_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_update")),
    )
    with op.batch_alter_table("status_update", schema=None) as batch_op:
        batch_op.create_index(
            "ix_status_update_commitment_reported",
            ["commitment_id", "reported_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_status_update_in_reply_to_assessment_id"),
            ["in_reply_to_assessment_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_status_update_ministry_id"), ["ministry_id"], unique=False
        )
        batch_op.create_index("ix_status_update_reported_at", ["reported_at", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_status_update_reported_by"), ["reported_by"], unique=False
        )

    op.create_table(
        "assessment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("commitment_id", sa.Integer(), nullable=False),
        sa.Column("status_update_id", sa.Integer(), nullable=True),
        sa.Column("verdict", sa.String(length=32), nullable=False),
        sa.Column("assessed_status", sa.String(length=32), nullable=False),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("assessed_by", sa.Integer(), nullable=False),
        sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessed_by"],
            ["user_account.id"],
            name=op.f("fk_assessment_assessed_by_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["commitment_id"],
            ["commitment.id"],
            name=op.f("fk_assessment_commitment_id_commitment"),
        ),
        sa.ForeignKeyConstraint(
            ["status_update_id"],
            ["status_update.id"],
            name=op.f("fk_assessment_status_update_id_status_update"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment")),
    )
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_assessment_assessed_by"), ["assessed_by"], unique=False
        )
        batch_op.create_index(
            "ix_assessment_commitment_assessed",
            ["commitment_id", "assessed_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_assessment_status_update_id"), ["status_update_id"], unique=False
        )

    # status_update <-> assessment reference each other: this one is added last.
    with op.batch_alter_table("status_update", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_status_update_in_reply_to_assessment_id_assessment",
            "assessment",
            ["in_reply_to_assessment_id"],
            ["id"],
        )

    _load_provisions()


def _load_provisions() -> None:
    """The shipped treaty provision catalogue (UNTOC and its three Protocols)."""
    now = datetime.now(UTC)
    provision = sa.table(
        "provision",
        sa.column("key", sa.String),
        sa.column("instrument", sa.String),
        sa.column("article", sa.String),
        sa.column("title", sa.String),
        sa.column("cluster", sa.Integer),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
        sa.column("version", sa.Integer),
    )
    text = resources.files("vpitracker.data").joinpath("provisions.csv").read_text("utf-8")
    rows = [
        {
            "key": r["key"],
            "instrument": r["instrument"],
            "article": r["article"],
            "title": r["title"],
            "cluster": int(r["cluster"]) if r["cluster"] else None,
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        for r in csv.DictReader(io.StringIO(text))
    ]
    op.bulk_insert(provision, rows)


def downgrade() -> None:
    with op.batch_alter_table("status_update", schema=None) as batch_op:
        batch_op.drop_constraint(
            "fk_status_update_in_reply_to_assessment_id_assessment", type_="foreignkey"
        )

    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assessment_status_update_id"))
        batch_op.drop_index("ix_assessment_commitment_assessed")
        batch_op.drop_index(batch_op.f("ix_assessment_assessed_by"))

    op.drop_table("assessment")
    with op.batch_alter_table("status_update", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_update_reported_by"))
        batch_op.drop_index("ix_status_update_reported_at")
        batch_op.drop_index(batch_op.f("ix_status_update_ministry_id"))
        batch_op.drop_index(batch_op.f("ix_status_update_in_reply_to_assessment_id"))
        batch_op.drop_index("ix_status_update_commitment_reported")

    op.drop_table("status_update")
    with op.batch_alter_table("commitment_support", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commitment_support_ministry_id"))

    op.drop_table("commitment_support")
    with op.batch_alter_table("commitment_recommendation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commitment_recommendation_recommendation_id"))

    op.drop_table("commitment_recommendation")
    with op.batch_alter_table("user_ministry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_ministry_ministry_id"))

    op.drop_table("user_ministry")
    with op.batch_alter_table("recommendation_provision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recommendation_provision_provision_key"))

    op.drop_table("recommendation_provision")
    with op.batch_alter_table("commitment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commitment_lead_ministry_id"))
        batch_op.drop_index(batch_op.f("ix_commitment_due_date"))
        batch_op.drop_index(batch_op.f("ix_commitment_committed_on"))

    op.drop_table("commitment")
    op.drop_table("api_key")
    op.drop_table("user_account")
    with op.batch_alter_table("recommendation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recommendation_source_date"))

    op.drop_table("recommendation")
    with op.batch_alter_table("provision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provision_instrument"))
        batch_op.drop_index(batch_op.f("ix_provision_cluster"))

    op.drop_table("provision")
    with op.batch_alter_table("ministry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ministry_parent_id"))

    op.drop_table("ministry")
    with op.batch_alter_table("login_failure", schema=None) as batch_op:
        batch_op.drop_index("ix_login_failure_email_at")
        batch_op.drop_index("ix_login_failure_address_at")

    op.drop_table("login_failure")
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_record_created_at"))

    op.drop_table("idempotency_record")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_entity")

    op.drop_table("audit_event")
