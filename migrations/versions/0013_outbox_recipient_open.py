"""outbox: unfinished rows per recipient, so a claim's in-order check is one index probe

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

UNFINISHED = "status IN ('pending', 'working')"


def upgrade() -> None:
    op.create_index(
        "ix_outbox_recipient_unfinished",
        "outbox",
        ["platform", "user_id", "conversation_id", "id"],
        postgresql_where=sa.text(UNFINISHED),
        sqlite_where=sa.text(UNFINISHED),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_recipient_unfinished", table_name="outbox")
