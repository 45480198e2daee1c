"""customer numbers from a sequence on PostgreSQL: registering a new customer takes no lock

Ticket numbers stay a locked counter row (#n counts without gaps); customer ids (c17) are
internal and may skip a number when a registration rolls back.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite has one writer: the counter row costs nothing there
    op.execute("CREATE SEQUENCE customer_numbers")
    op.execute(
        "SELECT setval('customer_numbers', value) FROM counters "
        "WHERE name = 'customer' AND value > 0"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE counters SET value = (SELECT last_value FROM customer_numbers) "
            "WHERE name = 'customer'"
        )
        op.execute("DROP SEQUENCE customer_numbers")
