"""scan indexes: the scans and reports read index ranges, not whole tables

auto-close (status, resolved_at); engineers' load (status, assignee_id); overdue
(status, resolve_due_at); the summary's and dashboard's periods (created_at, first_response_at,
resolved_at, closed_at on tickets; decided_at on part requests; met_at, breached_at on SLA
clocks).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

INDEXES: tuple[tuple[str, str, list[str]], ...] = (
    ("tickets", "ix_tickets_status_resolved", ["status", "resolved_at"]),
    ("tickets", "ix_tickets_status_assignee", ["status", "assignee_id"]),
    ("tickets", "ix_tickets_status_resolve_due", ["status", "resolve_due_at"]),
    ("tickets", "ix_tickets_created_at", ["created_at"]),
    ("tickets", "ix_tickets_first_response_at", ["first_response_at"]),
    ("tickets", "ix_tickets_resolved_at", ["resolved_at"]),
    ("tickets", "ix_tickets_closed_at", ["closed_at"]),
    ("part_requests", "ix_part_requests_decided_at", ["decided_at"]),
    ("sla_clocks", "ix_sla_clocks_met_at", ["met_at"]),
    ("sla_clocks", "ix_sla_clocks_breached_at", ["breached_at"]),
)


def upgrade() -> None:
    for table, name, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for table, name, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
