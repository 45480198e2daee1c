"""sla_clocks: each SLA target of a ticket with its indexed next check (the scan's work list)

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "sla_clocks",
        sa.Column(
            "ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("calendar", sa.String(length=64), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("warn_seconds", sa.Integer(), nullable=False),
        sa.Column("started_at", ts, nullable=False),
        sa.Column("due_at", ts, nullable=True),
        sa.Column("warn_at", ts, nullable=True),
        sa.Column("met_at", ts, nullable=True),
        sa.Column("stopped", sa.Boolean(), nullable=False),
        sa.Column("pauses", sa.JSON(), nullable=False),
        sa.Column("policy", sa.String(length=32), nullable=False),
        sa.Column("warned_at", ts, nullable=True),
        sa.Column("breached_at", ts, nullable=True),
        sa.Column("check_at", ts, nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_sla_clocks_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("ticket_id", "name", name=op.f("pk_sla_clocks")),
    )
    with op.batch_alter_table("sla_clocks") as batch_op:
        batch_op.create_index(batch_op.f("ix_sla_clocks_check_at"), ["check_at"], unique=False)


def downgrade() -> None:
    op.drop_table("sla_clocks")
