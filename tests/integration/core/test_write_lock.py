"""SQLite's write lock: taken first, waited for in short steps (core/write_lock.py).

Two engines on one SQLite file stand for serve and its worker process (each process has one
pooled connection)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from core import db, write_lock
from core.sqlite_inline import InlineConnection
from core.write_lock import begin_write
from webhooks.bootstrap import build_services, close_services, migrate


@pytest.fixture
async def engines(sqlite_url: str) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    one, two = db.make_engine(sqlite_url), db.make_engine(sqlite_url)
    await migrate(one)
    yield one, two
    await one.dispose()
    await two.dispose()


def row(key: str) -> dict[str, Any]:
    return {"key": key, "value": "v", "expires_at": None}


async def test_a_waiting_writer_gets_the_lock_within_milliseconds_of_its_release(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    """SQLite's busy handler looks again only every 100 ms after the first quarter second, so
    its mean delay after a release is about 50 ms; begin_write looks every 4 ms at most."""
    holder, waiter = engines
    delays = []
    for i in range(5):
        got_at: list[float] = []

        async def wait_and_write(i: int = i, got_at: list[float] = got_at) -> None:
            async with waiter.begin() as conn:
                await begin_write(conn)
                got_at.append(time.monotonic())
                await conn.execute(insert(db.cache_entries).values(row(f"waiter{i}")))

        async with holder.begin() as conn:
            await begin_write(conn)
            await conn.execute(insert(db.cache_entries).values(row(f"holder{i}")))
            task = asyncio.create_task(wait_and_write())
            await asyncio.sleep(0.25 + 0.017 * i)  # releases at different points of a 100 ms step
            assert not got_at  # still waiting: the lock is held
        released_at = time.monotonic()  # after the commit
        await task
        delays.append(got_at[0] - released_at)
    assert sum(delays) / len(delays) < 0.02, delays
    async with holder.connect() as conn:
        n = await conn.scalar(select(func.count()).select_from(db.cache_entries))
    assert n == 10


async def test_a_holder_that_takes_the_lock_again_at_once_makes_way_when_asked(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    """A worker with a backlog commits and takes the lock again within a millisecond; the
    waiter asks it to make way (serve does so through its worker's pipe) and gets in. The
    worker runs SQLite inline, as the worker process does: between its commit and its next
    BEGIN the event loop does not run, so without making way the waiter would never get in."""
    _, waiter = engines
    busy = db.make_engine(engines[0].url.render_as_string(hide_password=False), inline=True)
    stop = asyncio.Event()
    asked: list[float] = []

    async def backlog() -> int:
        n = 0
        while not stop.is_set():
            async with busy.begin() as conn:
                await begin_write(conn)
                await conn.execute(insert(db.cache_entries).values(row(f"turn{n}")))
                await asyncio.sleep(0.005)  # the rest of a chat turn, holding the lock
            n += 1
        return n

    def ask() -> None:
        asked.append(time.monotonic())
        write_lock.make_way()  # what the worker process does when serve's nudge arrives

    turns = asyncio.create_task(backlog())
    await asyncio.sleep(0.05)
    write_lock.on_waiting(ask)
    try:
        waits = []
        for i in range(5):
            t0 = time.monotonic()
            async with waiter.begin() as conn:
                await begin_write(conn)
                waits.append(time.monotonic() - t0)
                await conn.execute(insert(db.cache_entries).values(row(f"ack{i}")))
    finally:
        write_lock.on_waiting(None)
        stop.set()
        n = await turns
        await busy.dispose()
    assert n >= 5 and asked  # the holder kept working, and was asked at least once
    assert max(waits) < 0.2, waits  # one turn, the pause, a look: milliseconds, not a backlog


async def test_the_wait_ends_with_an_error_and_the_busy_timeout_is_restored(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    holder, waiter = engines
    async with holder.begin() as conn:
        await begin_write(conn)
        async with waiter.connect() as other:
            with pytest.raises(OperationalError, match="locked"):
                await begin_write(other, timeout_s=0.05)
            timeout = (await other.exec_driver_sql("PRAGMA busy_timeout")).scalar()
            assert timeout == 30_000
            await other.rollback()
    async with waiter.begin() as conn:  # free again: no wait at all
        await begin_write(conn)
        n = await conn.scalar(select(func.count()).select_from(db.cache_entries))
        assert n == 0


async def test_only_worker_processes_leave_syncing_to_the_next_commit_and_run_inline(
    sqlite_url: str, make_settings: Any
) -> None:
    """PRAGMA synchronous: 2 is FULL (serve's acks), 1 is NORMAL (the worker process); only
    the worker process runs SQLite on its loop's thread (core/sqlite_inline.py)."""
    settings = make_settings(database_url=sqlite_url)
    found = {}
    for worker in (False, True):
        services = await build_services(settings, worker=worker)
        try:
            async with services.engine.connect() as conn:
                synchronous = (await conn.exec_driver_sql("PRAGMA synchronous")).scalar()
                raw = await conn.get_raw_connection()
                found[worker] = (synchronous, isinstance(raw.driver_connection, InlineConnection))
        finally:
            await close_services(services)
    assert found == {False: (2, False), True: (1, True)}
    strict = make_settings(database_url=sqlite_url, workers={"sqlite_synchronous": "full"})
    services = await build_services(strict, worker=True)
    try:
        async with services.engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA synchronous")).scalar() == 2
    finally:
        await close_services(services)
