"""What happened to claimed outbox rows, written with group commit.

Sends run concurrently; each outcome is handed over here and written at once, except that the
outcomes arriving while a write is in flight share the next transaction (all the rows sent
meanwhile in one UPDATE), at a fraction of the round trips of one transaction per send. The
relay holds a send's slot until its row is marked (``sent()`` returns a future), so a crash
finds at most as many messages accepted by the platform but not marked as there are slots:
each is sent again once. A failed write leaves the rows claimed: their lease runs out and they
are tried again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.ports import Receipt
from bot.receipts import save_receipt
from core import outbox
from core.clock import Clock
from core.write_lock import begin_write

log = logging.getLogger(__name__)

Op = Callable[[AsyncConnection], Awaitable[None]]


def autocommit_engine(engine: AsyncEngine) -> AsyncEngine | None:
    """PostgreSQL: the engine's connections in autocommit, for writes of one statement."""
    if engine.dialect.name != "postgresql":
        return None
    return engine.execution_options(isolation_level="AUTOCOMMIT")


class Outcomes:
    def __init__(
        self, engine: AsyncEngine, clock: Clock, autocommit: AsyncEngine | None = None
    ) -> None:
        """``autocommit``: :func:`autocommit_engine` of ``engine`` (made once by the relay)."""
        self.engine = engine
        self.clock = clock
        self._sent: list[int] = []
        self._receipts: list[tuple[Receipt, int | None]] = []
        self._ops: list[Op] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._task: asyncio.Task[None] | None = None
        self._errors: list[BaseException] = []
        self.writes = 0
        self._autocommit = autocommit

    def sent(
        self, ids: list[int], receipt: Receipt | None, *, ticket_id: int | None
    ) -> asyncio.Future[None]:
        """Mark ``ids`` sent; the future is done once that is written (or failed to be)."""
        self._sent.extend(ids)
        if receipt is not None:
            self._receipts.append((receipt, ticket_id))
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(written)
        self._kick()
        return written

    def retry(self, rows: list[dict[str, Any]], error: str, due_at: datetime) -> None:
        async def op(conn: AsyncConnection) -> None:
            for row in rows:
                await outbox.mark_retry(conn, row["id"], error=error, due_at=due_at)

        self._add(op)

    def dead(self, ids: list[int], error: str) -> None:
        async def op(conn: AsyncConnection) -> None:
            for row_id in ids:
                await outbox.mark_dead(conn, row_id, error=error)

        self._add(op)

    def defer(self, rows: list[dict[str, Any]], due_at: datetime) -> None:
        """Put claimed rows back for later without counting the claim as an attempt."""
        if not rows:
            return

        async def op(conn: AsyncConnection) -> None:
            for row in rows:
                await outbox.mark_deferred(conn, row["id"], due_at=due_at)

        self._add(op)

    async def settled(self) -> None:
        """Wait until what was handed over so far is written (or failed to be)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def drain(self) -> None:
        """Wait until every outcome handed over is written; raise the first write error."""
        await self.settled()
        if self._errors:
            error, self._errors = self._errors[0], []
            raise error

    def _add(self, op: Op) -> None:
        self._ops.append(op)
        self._kick()

    def _kick(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._write(), name="outbox-outcomes")

    async def _write(self) -> None:
        while self._sent or self._ops:
            sent, self._sent = self._sent, []
            receipts, self._receipts = self._receipts, []
            ops, self._ops = self._ops, []
            waiters, self._waiters = self._waiters, []
            try:
                if sent and not receipts and not ops and self._autocommit is not None:
                    await self._write_sent(sent)
                else:
                    await self._write_all(sent, receipts, ops)
                self.writes += 1
            except Exception as exc:  # the rows stay claimed; their lease brings them back
                log.exception("writing the outcome of outbox rows %s failed", sent)
                self._errors.append(exc)
            finally:
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(None)

    async def _write_all(
        self, sent: list[int], receipts: list[tuple[Receipt, int | None]], ops: list[Op]
    ) -> None:
        async with self.engine.begin() as conn:
            await begin_write(conn)  # SQLite: wait for the lock in short steps
            now = self.clock.now()
            for receipt, ticket_id in receipts:
                await save_receipt(conn, receipt, ticket_id=ticket_id, at=now)
            if sent:
                await outbox.mark_sent(conn, sent, at=now)
            for op in ops:
                await op(conn)

    async def _write_sent(self, sent: list[int]) -> None:
        """PostgreSQL, nothing but sent marks: the one UPDATE is its own transaction (one
        round trip instead of BEGIN, UPDATE, COMMIT)."""
        assert self._autocommit is not None
        async with self._autocommit.connect() as conn:
            await outbox.mark_sent(conn, sent, at=self.clock.now())
