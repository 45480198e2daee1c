"""core/db.py and the migrations agree on every index (name and columns), on each backend."""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from core import db


def _declared() -> set[tuple[str, str, tuple[str, ...]]]:
    return {
        (table.name, str(index.name), tuple(c.name for c in index.columns))
        for table in db.metadata.sorted_tables
        for index in table.indexes
    }


async def test_migrated_indexes_are_those_core_db_declares(migrated_engine: AsyncEngine) -> None:
    def read(conn: object) -> set[tuple[str, str, tuple[str, ...]]]:
        inspector = inspect(conn)
        return {
            (table.name, str(ix["name"]), tuple(str(c) for c in ix["column_names"]))
            for table in db.metadata.sorted_tables
            for ix in inspector.get_indexes(table.name)
            if not ix.get("unique")  # unique constraints are compared as constraints elsewhere
        }

    async with migrated_engine.connect() as conn:
        created = await conn.run_sync(read)
    declared = _declared()
    assert ("tickets", "ix_tickets_status_resolved", ("status", "resolved_at")) in declared
    assert created == declared
