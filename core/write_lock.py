"""SQLite's one write lock, taken at the start of a write transaction and waited for in short
steps.

The driver (pysqlite) opens a transaction only at the first write: what a chat turn reads
before that is read outside any transaction, so another process may change it before the turn
writes. And a writer that finds the lock taken waits in SQLite's busy handler, which after the
first quarter second looks again only every 100 ms: a mean 50 ms lost after each release, while
a process that takes the lock again at once (a worker going from one turn to the next) keeps
winning, and serve, storing callbacks behind their acks, waits.

``begin_write`` therefore opens the transaction with ``BEGIN IMMEDIATE`` (the lock first, so
what the transaction reads stays as read until it commits) and, while the lock is taken, looks
again every few milliseconds itself instead of leaving it to the busy handler. On PostgreSQL it
does nothing: rows are locked one by one there.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

BUSY_TIMEOUT_MS = 30_000  # every other wait for the lock (core/db.py sets it per connection)
STEP_S = (0.0005, 0.001, 0.002, 0.004)  # the pauses between looks, the last one repeated


async def begin_write(conn: AsyncConnection, *, timeout_s: float = BUSY_TIMEOUT_MS / 1000) -> None:
    """Start the connection's transaction holding SQLite's write lock (nothing on PostgreSQL,
    nothing when the transaction has begun already). Raises OperationalError after
    ``timeout_s`` of waiting."""
    if conn.dialect.name != "sqlite":
        return
    raw = await conn.get_raw_connection()
    if raw.driver_connection.in_transaction:  # type: ignore[union-attr]
        return
    await conn.exec_driver_sql("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + timeout_s
        for attempt in range(1_000_000):
            try:
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError as exc:
                if "locked" not in str(exc).lower() or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(STEP_S[min(attempt, len(STEP_S) - 1)])
    finally:
        await conn.exec_driver_sql(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
