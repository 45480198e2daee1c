"""reach: where a person is reached (per-person preference, the platform last used)

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.add_column(
            sa.Column("prefer_platform", sa.String(length=16), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("last_platform", sa.String(length=16), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.drop_column("last_platform")
        batch.drop_column("prefer_platform")
