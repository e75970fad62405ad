"""Credential version on accounts; sign-in failures keyed by a hash, never the typed text.

``user_account.credential_version`` is copied into every token and bumped by a
password change, a role change, deactivation and "sign out everywhere", which
voids every token issued before. ``login_failure.email`` becomes ``account``: a
keyed hash of the name typed at sign-in (what was typed may be a password). Old
failure rows are dropped: they only feed a 15-minute throttle.

Revision ID: 0004_sec
Revises: 0004_notify
Create Date: 2026-12-02 04:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_sec"
down_revision: str | None = "0004_notify"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("user_account") as batch:
        batch.add_column(
            sa.Column("credential_version", sa.Integer(), nullable=False, server_default="1")
        )
    op.execute("DELETE FROM login_failure")
    op.drop_index("ix_login_failure_email_at", table_name="login_failure")
    with op.batch_alter_table("login_failure") as batch:
        batch.alter_column(
            "email", new_column_name="account", existing_type=sa.String(320), type_=sa.String(64)
        )
    op.create_index("ix_login_failure_account_at", "login_failure", ["account", "at"])
    op.create_index(
        "ix_login_failure_account_address_at", "login_failure", ["account", "address", "at"]
    )


def downgrade() -> None:
    op.drop_index("ix_login_failure_account_address_at", table_name="login_failure")
    op.drop_index("ix_login_failure_account_at", table_name="login_failure")
    op.execute("DELETE FROM login_failure")
    with op.batch_alter_table("login_failure") as batch:
        batch.alter_column(
            "account", new_column_name="email", existing_type=sa.String(64), type_=sa.String(320)
        )
    op.create_index("ix_login_failure_email_at", "login_failure", ["email", "at"])
    with op.batch_alter_table("user_account") as batch:
        batch.drop_column("credential_version")
