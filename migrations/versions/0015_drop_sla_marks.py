"""sla_marks: drop the table, which nothing ever read or wrote; the SLA engine keeps its warn
and breach marks on the clocks themselves (sla_clocks.warned_at, breached_at)

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("sla_marks")


def downgrade() -> None:
    # the table as 0001 created it, written out here on purpose: a migration stands alone
    # and never imports another (0001 must stay what it was when it ran)
    op.create_table(
        "sla_marks",
        sa.Column(
            "ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_sla_marks_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("ticket_id", "kind", name=op.f("pk_sla_marks")),
    )
