"""tickets: drop ix_tickets_status, which the (status, resolved_at), (status, assignee_id) and
(status, resolve_due_at) indexes already lead with; every ticket UPDATE that changes the status
or the assignee wrote an entry into it for nothing

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_tickets_status", table_name="tickets")


def downgrade() -> None:
    op.create_index("ix_tickets_status", "tickets", ["status"])
