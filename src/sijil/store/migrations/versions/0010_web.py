"""The desk web app: sign-in credentials, recovery codes, sessions, the activity log.

Revision ID: 0010
Revises: 0009

sijil.store.models_web explains the tables. ``web_activity_head`` starts with
its one row: sequence 0 and the digest of nothing (64 zeros), which the first
activity entry chains from.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_USERS_FK = "desk_users.id"


def upgrade() -> None:
    op.create_table(
        "web_credentials",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("enrol_code_hash", sa.String(length=64), nullable=True),
        sa.Column("enrol_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("totp_secret", sa.String(length=64), nullable=True),
        sa.Column("totp_last_step", sa.Integer(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], [_USERS_FK], name=op.f("fk_web_credentials_user_id_desk_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_web_credentials")),
    )
    op.create_table(
        "web_recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], [_USERS_FK], name=op.f("fk_web_recovery_codes_user_id_desk_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_recovery_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_web_recovery_codes_code_hash")),
    )
    op.create_index(op.f("ix_web_recovery_codes_user_id"), "web_recovery_codes", ["user_id"])
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=8), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("roles_digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], [_USERS_FK], name=op.f("fk_web_sessions_user_id_desk_users")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_web_sessions")),
    )
    op.create_index(op.f("ix_web_sessions_user_id"), "web_sessions", ["user_id"])
    op.create_table(
        "web_activity",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("object", sa.String(length=128), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], [_USERS_FK], name=op.f("fk_web_activity_user_id_desk_users")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_web_activity")),
    )
    head = op.create_table(
        "web_activity_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_activity_head")),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "digest": "0" * 64}])


def downgrade() -> None:
    op.drop_table("web_activity_head")
    op.drop_table("web_activity")
    op.drop_index(op.f("ix_web_sessions_user_id"), table_name="web_sessions")
    op.drop_table("web_sessions")
    op.drop_index(op.f("ix_web_recovery_codes_user_id"), table_name="web_recovery_codes")
    op.drop_table("web_recovery_codes")
    op.drop_table("web_credentials")
