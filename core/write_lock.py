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

Looking often is not enough when the holder takes the lock again within a millisecond of each
commit (a worker with a backlog). So a process that has waited a few looks says so once per wait
(``on_waiting``: serve nudges its worker process through the pipe it already has), and the
told process (``make_way``) pauses a few milliseconds before its next transaction, which the
waiter's next look falls into.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

BUSY_TIMEOUT_MS = 30_000  # every other wait for the lock (core/db.py sets it per connection)
STEP_S = (0.0005, 0.001, 0.002)  # the pauses between looks, the last one repeated
ASK_AFTER = 3  # looks (about 3.5 ms of waiting: longer than most transactions) before asking
MAKE_WAY_S = 0.003  # longer than the longest pause between looks
MAKE_WAY_FOR_S = 0.1  # a request to make way older than this has been served by then

_waiting_hook: Callable[[], None] | None = None
_make_way_at = 0.0


def on_waiting(hook: Callable[[], None] | None) -> None:
    """Call ``hook`` (in this process) when a wait for the lock begins."""
    global _waiting_hook
    _waiting_hook = hook


def make_way() -> None:
    """Another process waits for the lock: pause before this process's next transaction."""
    global _make_way_at
    _make_way_at = time.monotonic()


async def _made_way() -> None:
    global _make_way_at
    if _make_way_at and time.monotonic() - _make_way_at < MAKE_WAY_FOR_S:
        _make_way_at = 0.0
        await asyncio.sleep(MAKE_WAY_S)


async def begin_write(conn: AsyncConnection, *, timeout_s: float = BUSY_TIMEOUT_MS / 1000) -> None:
    """Start the connection's transaction holding SQLite's write lock (nothing on PostgreSQL,
    nothing when the transaction has begun already). Raises OperationalError after
    ``timeout_s`` of waiting."""
    if conn.dialect.name != "sqlite":
        return
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection  # aiosqlite's connection
    if driver.in_transaction:
        return
    await _made_way()
    deadline = time.monotonic() + timeout_s
    for attempt in range(1_000_000):
        # one call on the driver's thread per look (serve's: a hand-over each), not three
        if await driver._execute(_begin_immediate, driver._conn):
            return
        if time.monotonic() > deadline:
            raise OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError("locked"))
        if attempt == ASK_AFTER and _waiting_hook is not None:
            _waiting_hook()
        await asyncio.sleep(STEP_S[min(attempt, len(STEP_S) - 1)])


def _begin_immediate(sqlite_conn: sqlite3.Connection) -> bool:
    """On the driver's thread: BEGIN IMMEDIATE if the lock is free at once (False if not),
    without waiting in SQLite's busy handler."""
    sqlite_conn.execute("PRAGMA busy_timeout=0")
    try:
        sqlite_conn.execute("BEGIN IMMEDIATE")
        return True
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc).lower():
            raise
        return False
    finally:
        sqlite_conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
