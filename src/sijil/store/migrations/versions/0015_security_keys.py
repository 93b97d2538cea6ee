"""Security keys (WebAuthn) as a second factor, and their challenges (issue 12).

Revision ID: 0015
Revises: 0014

sijil.store.models_security_keys explains the tables.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_security_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.String(length=1364), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["desk_users.id"], name=op.f("fk_web_security_keys_user_id_desk_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_security_keys")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_web_security_keys_credential_id")),
    )
    op.create_index(op.f("ix_web_security_keys_user_id"), "web_security_keys", ["user_id"])
    op.create_table(
        "web_key_challenges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("ceremony", sa.String(length=16), nullable=False),
        sa.Column("challenge", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "ceremony IN ('register', 'sign_in')", name=op.f("ck_web_key_challenges_ceremony")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["desk_users.id"], name=op.f("fk_web_key_challenges_user_id_desk_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_key_challenges")),
    )
    op.create_index(
        op.f("ix_web_key_challenges_session_hash"), "web_key_challenges", ["session_hash"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_web_key_challenges_session_hash"), table_name="web_key_challenges")
    op.drop_table("web_key_challenges")
    op.drop_index(op.f("ix_web_security_keys_user_id"), table_name="web_security_keys")
    op.drop_table("web_security_keys")
