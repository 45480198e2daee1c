"""field service: asset registry, scan-to-report tokens, sign-offs, settlements

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "assets",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("customer", sa.String(length=200), nullable=False),
        sa.Column("site_address", sa.String(length=500), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("install_date", sa.Date(), nullable=True),
        sa.Column("warranty_end", sa.Date(), nullable=True),
        sa.Column("contract_end", sa.Date(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assets")),
        sa.UniqueConstraint("key", name=op.f("uq_assets_key")),
    )
    op.create_table(
        "asset_tokens",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("asset_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_asset_tokens_asset_id_assets")
        ),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_asset_tokens")),
    )
    op.create_index(op.f("ix_asset_tokens_asset_id"), "asset_tokens", ["asset_id"])
    op.create_table(
        "signoffs",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("signed_at", TS, nullable=True),
        sa.Column("signer", sa.String(length=100), nullable=False),
        sa.Column("image_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_signoffs_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_signoffs")),
    )
    op.create_index(op.f("ix_signoffs_ticket_id"), "signoffs", ["ticket_id"])
    op.create_table(
        "settlements",
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("customer", sa.String(length=200), nullable=False),
        sa.Column("engineer_id", sa.String(length=64), nullable=False),
        sa.Column("closed_at", TS, nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("total", sa.String(length=20), nullable=False),
        sa.Column("customer_pays", sa.String(length=20), nullable=False),
        sa.Column("free_reason", sa.String(length=16), nullable=False),
        sa.Column("labour_minutes", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_settlements_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_settlements")),
    )
    op.create_index(op.f("ix_settlements_customer"), "settlements", ["customer"])
    op.create_index(op.f("ix_settlements_closed_at"), "settlements", ["closed_at"])
    op.add_column("tickets", sa.Column("asset_id", sa.String(length=64), nullable=True))
    op.create_index(op.f("ix_tickets_asset_id"), "tickets", ["asset_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_tickets_asset_id"), table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("asset_id")
    op.drop_table("settlements")
    op.drop_table("signoffs")
    op.drop_table("asset_tokens")
    op.drop_table("assets")
