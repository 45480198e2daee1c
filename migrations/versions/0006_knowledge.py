"""knowledge base: article status, author, counters and source ticket; kb_events

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("kb_articles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), nullable=False, server_default="published")
        )
        batch_op.add_column(
            sa.Column("author", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("views", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("helpful", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("unhelpful", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("source_ticket_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_kb_articles_status", ["status"], unique=False)
    op.create_table(
        "kb_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("article_id", sa.String(length=64), nullable=True),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_events")),
    )
    with op.batch_alter_table("kb_events", schema=None) as batch_op:
        batch_op.create_index("ix_kb_events_kind_at", ["kind", "at"], unique=False)


def downgrade() -> None:
    op.drop_table("kb_events")
    with op.batch_alter_table("kb_articles", schema=None) as batch_op:
        batch_op.drop_index("ix_kb_articles_status")
        for column in (
            "created_at",
            "source_ticket_id",
            "unhelpful",
            "helpful",
            "views",
            "author",
            "status",
        ):
            batch_op.drop_column(column)
