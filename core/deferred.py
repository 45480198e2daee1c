"""Deferred writes: a scan over many tickets writes each table once, not once per ticket.

A unit of work writes at once by default. A handler that works through many tickets (the
accept-timeout scan) asks it to defer: from then on the repositories hand their INSERTs and
UPDATEs to :class:`Writes` instead of running them, and they go out grouped, one executemany
per run of the same statement, **before any other statement** on the connection (the
repositories see it through :class:`DeferringConnection`), before a savepoint and before the
commit. Nothing can read what was not written yet, so the transaction sees what it would have
seen writing at once; only the order between tables changes (rows of one table keep theirs,
and every row they refer to exists already: deferred writes never create tickets).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Insert
from sqlalchemy.ext.asyncio import AsyncConnection

Execute = Callable[[AsyncConnection, list[Any]], Awaitable[None]]


@dataclass
class _Run:
    key: Hashable
    execute: Execute
    rows: list[Any] = field(default_factory=list)


class Writes:
    """Held-back writes, per table in their order; consecutive ones of one kind are a run."""

    def __init__(self) -> None:
        self.deferring = False
        self._tables: dict[str, list[_Run]] = {}

    def __bool__(self) -> bool:
        return bool(self._tables)

    def add(self, table: str, key: Hashable, execute: Execute, row: Any) -> None:
        """Hold ``row`` back; ``execute(conn, rows)`` writes a run of rows of this ``key``."""
        runs = self._tables.setdefault(table, [])
        if not runs or runs[-1].key != key:
            runs.append(_Run(key, execute))
        runs[-1].rows.append(row)

    async def flush(self, conn: AsyncConnection) -> None:
        while self._tables:
            tables, self._tables = self._tables, {}
            for runs in tables.values():
                for run in runs:
                    await run.execute(conn, run.rows)

    def discard(self) -> None:
        self._tables = {}


def executemany(statement: Any) -> Execute:
    """A run written as one executemany of ``statement``. On PostgreSQL an INSERT of several
    rows goes out as multi-row INSERTs (SQLAlchemy's "insertmanyvalues", which it uses there
    only for an INSERT ... RETURNING: without one, the driver executes every row by itself)."""

    async def execute(conn: AsyncConnection, rows: list[Any]) -> None:
        if len(rows) > 1 and conn.dialect.name == "postgresql" and isinstance(statement, Insert):
            await conn.execute(_returning(statement), rows)
            return
        await conn.execute(statement, rows)

    return execute


_with_returning: dict[Insert, Insert] = {}


def _returning(statement: Insert) -> Insert:
    """``statement`` returning its table's key (built once per statement)."""
    found = _with_returning.get(statement)
    if found is None:
        key = list(statement.table.primary_key.columns)
        found = _with_returning[statement] = statement.returning(*key)
    return found


class DeferringConnection:
    """The connection as the unit of work's repositories see it: held-back writes go out
    before any statement runs; everything else is the connection itself."""

    def __init__(self, conn: AsyncConnection, writes: Writes) -> None:
        self._conn = conn
        self.writes = writes

    async def flush(self) -> None:
        if self.writes:
            await self.writes.flush(self._conn)

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        await self.flush()
        return await self._conn.execute(*args, **kwargs)

    async def exec_driver_sql(self, *args: Any, **kwargs: Any) -> Any:
        await self.flush()
        return await self._conn.exec_driver_sql(*args, **kwargs)

    async def scalar(self, *args: Any, **kwargs: Any) -> Any:
        await self.flush()
        return await self._conn.scalar(*args, **kwargs)

    async def scalars(self, *args: Any, **kwargs: Any) -> Any:
        await self.flush()
        return await self._conn.scalars(*args, **kwargs)

    async def stream(self, *args: Any, **kwargs: Any) -> Any:
        await self.flush()
        return await self._conn.stream(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def deferring(conn: Any) -> Writes | None:
    """The unit of work's held-back writes when it defers them, else None (write at once)."""
    writes = getattr(conn, "writes", None)
    return writes if isinstance(writes, Writes) and writes.deferring else None
