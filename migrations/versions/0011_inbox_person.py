"""inbox person key: one person's rows are handled in order, different people's concurrently

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UNFINISHED = "status IN ('pending', 'working')"


def upgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.add_column(
            sa.Column("person_key", sa.String(length=200), nullable=False, server_default="")
        )
    op.create_index(
        "ix_inbox_person_unfinished",
        "inbox",
        ["person_key", "id"],
        postgresql_where=sa.text(UNFINISHED),
        sqlite_where=sa.text(UNFINISHED),
    )


def downgrade() -> None:
    op.drop_index("ix_inbox_person_unfinished", table_name="inbox")
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("person_key")
