"""SQLite without aiosqlite's thread (core/sqlite_inline.py), as the worker process runs it.

The statements run on the event loop's thread; what must hold is everything the thread gave:
results, transactions, the driver's errors as SQLAlchemy's, and a wait for the write lock that
leaves the loop free."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from core import db
from core.sqlite_inline import InlineConnection
from core.write_lock import begin_write
from webhooks.bootstrap import migrate


def row(key: str) -> dict[str, Any]:
    return {"key": key, "value": "v", "expires_at": None}


def aiosqlite_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if "connection_worker" in t.name]


@pytest.fixture
async def inline(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.make_engine(sqlite_url, inline=True)
    await migrate(engine)
    yield engine
    await engine.dispose()


async def test_statements_commit_and_roll_back_without_a_thread(inline: AsyncEngine) -> None:
    before = aiosqlite_threads()
    async with inline.begin() as conn:
        await conn.execute(insert(db.cache_entries).values(row("kept")))
    with pytest.raises(RuntimeError):
        async with inline.begin() as conn:
            await conn.execute(insert(db.cache_entries).values(row("undone")))
            raise RuntimeError("the turn failed")
    async with inline.connect() as conn:
        keys = (await conn.execute(select(db.cache_entries.c.key))).scalars().all()
        raw = await conn.get_raw_connection()
        assert isinstance(raw.driver_connection, InlineConnection)
    assert keys == ["kept"]
    assert aiosqlite_threads() == before  # the migration and both transactions: no thread


async def test_the_drivers_errors_arrive_as_sqlalchemys(inline: AsyncEngine) -> None:
    async with inline.begin() as conn:
        await conn.execute(insert(db.cache_entries).values(row("one")))
    with pytest.raises(IntegrityError):
        async with inline.begin() as conn:
            await conn.execute(insert(db.cache_entries).values(row("one")))
    async with inline.begin() as conn:  # the connection is still good
        await conn.execute(insert(db.cache_entries).values(row("two")))
        n = await conn.scalar(select(func.count()).select_from(db.cache_entries))
    assert n == 2


async def test_waiting_for_the_write_lock_leaves_the_loop_free(
    inline: AsyncEngine, sqlite_url: str
) -> None:
    """serve holds the lock; the worker's begin_write waits in short async steps, so the
    relay's sends (here a ticker) go on meanwhile, and it writes once the lock is free."""
    serve = db.make_engine(sqlite_url)
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.001)

    async def worker_writes() -> None:
        async with inline.begin() as conn:
            await begin_write(conn)
            await conn.execute(insert(db.cache_entries).values(row("worker")))

    try:
        async with serve.begin() as conn:
            await begin_write(conn)
            await conn.execute(insert(db.cache_entries).values(row("serve")))
            beat = asyncio.create_task(ticker())
            waiting = asyncio.create_task(worker_writes())
            await asyncio.sleep(0.2)
            assert not waiting.done()  # the lock is held
            assert ticks >= 20  # and the loop kept running meanwhile
        await asyncio.wait_for(waiting, 5)
    finally:
        stop.set()
        await serve.dispose()
    await beat
    async with inline.connect() as conn:
        keys = set((await conn.execute(select(db.cache_entries.c.key))).scalars())
    assert keys == {"serve", "worker"}
