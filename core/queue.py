"""What the inbox and the outbox share: insert-once rows claimed under a lease.

On PostgreSQL a claim takes rows with ``FOR UPDATE SKIP LOCKED`` so several workers and several
instances never take the same row; on SQLite there is a single claimer (the database lock
serialises writers). A claimed row carries a lease: if its worker dies, the row becomes due
again when the lease runs out.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, literal_column, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from core.write_lock import begin_write

PENDING, WORKING, DONE, DEAD = "pending", "working", "done", "dead"


def unfinished(status: Any) -> Any:
    """``status IN ('pending', 'working')`` with the values written into the SQL: SQLite uses a
    partial index (``... WHERE status IN ('pending', 'working')``) only for a condition it can
    see implies the index's own, which bound parameters never do."""
    return status.in_([literal_column(f"'{PENDING}'"), literal_column(f"'{WORKING}'")])


def insert_ignoring_duplicates(conn: AsyncConnection | str, table: Table, index: list[str]) -> Any:
    """An INSERT that does nothing when the unique ``index`` columns already exist (``conn``
    or the dialect's name)."""
    dialect = conn if isinstance(conn, str) else conn.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=index)
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=index)
    raise RuntimeError(f"unsupported database {dialect}")


async def claim(
    conn: AsyncConnection,
    table: Table,
    *,
    due_column: str,
    now: datetime,
    limit: int,
    lease: timedelta,
) -> list[dict[str, Any]]:
    """Claim up to ``limit`` due rows, oldest first, and push their due time past the lease."""
    due = table.c[due_column]
    pick = (
        select(table.c.id)
        .where(table.c.status.in_((PENDING, WORKING)), due <= now)
        .order_by(due, table.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    await begin_write(conn)  # SQLite: a claim reads, then writes what it read
    ids = [r.id for r in await conn.execute(pick)]
    if not ids:
        return []
    result = await conn.execute(
        update(table)
        .where(table.c.id.in_(ids))
        .values({"status": WORKING, due_column: now + lease, "attempts": table.c.attempts + 1})
        .returning(*table.c)
    )
    rows = [dict(r._mapping) for r in result]
    rows.sort(key=lambda r: r["id"])
    return rows


def backoff(
    attempt: int, *, base: float = 2.0, cap: float = 600.0, hint: float | None = None
) -> float:
    """Exponential backoff with full jitter; a platform's retry hint is a floor."""
    delay = random.uniform(0, min(cap, base * 2 ** max(0, attempt - 1)))
    if hint is not None:
        delay = max(delay, hint)
    return min(delay, cap)
