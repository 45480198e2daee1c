"""aiosqlite without its thread, for a process whose event loop does nothing but database work.

aiosqlite runs each call on a thread of its own and hands the result back through the event
loop's self-pipe: per statement a queue put, a thread wake-up, a GIL hand-over and a loop
wake-up, which cost more CPU than the statement itself (an indexed read or a short write on
SQLite takes tens of microseconds). ``connect`` here returns aiosqlite's connection with its
request queue served at once on the caller's thread: every call completes before ``await``
returns, and the event loop is not involved.

The price is that a call which waits blocks the event loop: a write that finds SQLite's lock
taken waits in SQLite's busy handler (up to ``busy_timeout``), and a commit that runs the
checkpoint writes pages. The worker process takes its write lock through core/write_lock.py,
which never waits inside SQLite, so what is left is short; serve, whose acks must not wait
behind a commit's sync, keeps the thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Generator
from typing import Any

import aiosqlite


class _AtOnce:
    """Stands in for aiosqlite's request queue: serves each request as it is put."""

    def put_nowait(self, request: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = request
        try:
            result = function()
        except BaseException as exc:  # handed to the awaiting caller, as the thread does
            if future is not None and not future.done():
                future.set_exception(exc)
            return
        if future is not None and not future.done():
            future.set_result(result)


class InlineConnection(aiosqlite.Connection):
    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._tx = _AtOnce()  # type: ignore[assignment]

    def __await__(self) -> Generator[Any, None, aiosqlite.Connection]:
        return self._connect().__await__()  # no thread to start


def connect(*args: Any, **kwargs: Any) -> InlineConnection:
    """Like ``aiosqlite.connect`` (``sqlite3.connect``'s arguments), for SQLAlchemy's
    ``async_creator``."""
    return InlineConnection(lambda: sqlite3.connect(*args, **kwargs))
