"""Initial schema: correspondents, envelopes, reports, attachments, quarantine.

Revision ID: 0001
Revises:
Create Date: 2025-11-22

Written out in full rather than importing sijil's models or types, so this
migration keeps producing the same schema however the models change later.
Names follow the naming convention in ``sijil.store.models``; each is wrapped
in ``op.f`` so Alembic takes it as final instead of applying the convention to
it again (which would turn ``ck_envelopes_channel`` into
``ck_envelopes_ck_envelopes_channel``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "correspondents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("codename", sa.String(length=64), nullable=False),
        sa.Column("sign_key", sa.String(length=64), nullable=True),
        sa.Column("reply_key", sa.String(length=64), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("invite_token_hash", sa.String(length=64), nullable=True),
        sa.Column("enrolled", sa.Boolean(), nullable=False),
        _timestamp("created_at"),
        _timestamp("enrolled_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_correspondents")),
        sa.UniqueConstraint("codename", name=op.f("uq_correspondents_codename")),
        sa.UniqueConstraint("invite_token_hash", name=op.f("uq_correspondents_invite_token_hash")),
        sa.UniqueConstraint("sign_key", name=op.f("uq_correspondents_sign_key")),
    )
    op.create_table(
        "envelopes",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        _timestamp("received_at"),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("vault_path", sa.String(length=255), nullable=True),
        sa.CheckConstraint(
            "channel IN ('usb', 'text', 'file', 'relay')", name=op.f("ck_envelopes_channel")
        ),
        sa.CheckConstraint("status IN ('opened', 'quarantined')", name=op.f("ck_envelopes_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_envelopes")),
    )
    op.create_table(
        "quarantine_items",
        sa.Column("id", sa.Integer(), nullable=False),
        _timestamp("created_at"),
        sa.Column("source_name", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("error_type", sa.String(length=64), nullable=False),
        sa.Column("stored_path", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine_items")),
    )
    op.create_index(op.f("ix_quarantine_items_sha256"), "quarantine_items", ["sha256"])
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("envelope_id", sa.String(length=64), nullable=False),
        sa.Column("correspondent_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        _timestamp("created_at"),
        _timestamp("received_at"),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("location_precision_m", sa.Integer(), nullable=True),
        sa.Column("manifest", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["correspondent_id"],
            ["correspondents.id"],
            name=op.f("fk_reports_correspondent_id_correspondents"),
        ),
        sa.ForeignKeyConstraint(
            ["envelope_id"], ["envelopes.id"], name=op.f("fk_reports_envelope_id_envelopes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
        sa.UniqueConstraint("envelope_id", name=op.f("uq_reports_envelope_id")),
    )
    op.create_index(op.f("ix_reports_correspondent_id"), "reports", ["correspondent_id"])
    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("media_type", sa.String(length=127), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name=op.f("fk_attachments_report_id_reports")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
        sa.UniqueConstraint(
            "report_id", "position", name=op.f("uq_attachments_report_id_position")
        ),
    )
    op.create_index(op.f("ix_attachments_sha256"), "attachments", ["sha256"])


def downgrade() -> None:
    op.drop_index(op.f("ix_attachments_sha256"), table_name="attachments")
    op.drop_table("attachments")
    op.drop_index(op.f("ix_reports_correspondent_id"), table_name="reports")
    op.drop_table("reports")
    op.drop_index(op.f("ix_quarantine_items_sha256"), table_name="quarantine_items")
    op.drop_table("quarantine_items")
    op.drop_table("envelopes")
    op.drop_table("correspondents")
