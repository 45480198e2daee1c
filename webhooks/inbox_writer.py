"""Group commit for the inbox: concurrent callbacks share one transaction.

Each callback waits until its row is committed (so the platform's ack is durable), but rows
that arrive while a commit is in flight are written together in the next one. Under load this
turns hundreds of commits a second into a few dozen without adding latency when idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.inbound import CardAction, ChatMessage
from core import db, inbox, wake
from core.clock import Clock
from core.queue import PENDING, insert_ignoring_duplicates
from core.write_lock import begin_write

log = logging.getLogger(__name__)
MAX_BATCH = 500


@dataclass
class _Pending:
    rows: list[dict[str, Any]]
    done: asyncio.Future[int] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


def inbox_row(item: ChatMessage | CardAction) -> dict[str, Any]:
    payload = item.model_dump(mode="json")
    return {
        "platform": item.platform,
        "dedupe_key": item.dedupe_key[:255],
        "kind": item.type if isinstance(item, CardAction) else f"message:{item.kind.value}",
        "payload": payload,
        "person_key": inbox.person_key(item.platform, payload),
    }


class InboxWriter:
    def __init__(
        self, engine: AsyncEngine, clock: Clock, *, timeout_s: float | None = None
    ) -> None:
        self.timeout_s = timeout_s
        self.engine = engine
        self.clock = clock
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="inbox-writer")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def store(self, items: list[ChatMessage | CardAction]) -> int:
        """Durably store ``items``; returns how many were new (the rest were duplicates).

        Raises TimeoutError after ``timeout_s`` (a locked SQLite file, a stalled database):
        the caller answers 503 in time for the platform to retry. The write may still finish;
        the retry is then a duplicate, stored once.
        """
        if not items:
            return 0
        self.start()
        pending = _Pending(rows=[inbox_row(i) for i in items])
        await self._queue.put(pending)
        return await asyncio.wait_for(pending.done, self.timeout_s)

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and sum(len(p.rows) for p in batch) < MAX_BATCH:
                batch.append(self._queue.get_nowait())
            try:
                new_keys = await self._write_once_more([r for p in batch for r in p.rows])
            except Exception as exc:
                log.exception("inbox write of %d callbacks failed", len(batch))
                for p in batch:
                    if not p.done.done():
                        p.done.set_exception(exc)
                continue
            for p in batch:
                if not p.done.done():
                    p.done.set_result(
                        sum(1 for r in p.rows if (r["platform"], r["dedupe_key"]) in new_keys)
                    )

    async def _write_once_more(self, rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
        """Write; a pooled connection found dead (the database restarted) is dropped by the pool
        and the write tried once more on a fresh one, instead of a ping before every use."""
        try:
            return await self._write(rows)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            log.warning("inbox write met a dead database connection; trying a fresh one")
            return await self._write(rows)

    async def _write(self, rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
        now = self.clock.now()
        values = [
            {
                **r,
                "status": PENDING,
                "attempts": 0,
                "received_at": now,
                "available_at": now,
                "error": "",
            }
            for r in rows
        ]
        async with self.engine.begin() as conn:
            await begin_write(conn)  # SQLite: wait for the lock in short steps
            stmt = insert_ignoring_duplicates(conn, db.inbox, ["platform", "dedupe_key"]).returning(
                db.inbox.c.platform, db.inbox.c.dedupe_key
            )
            result = (
                await conn.execute(stmt, values)
                if len(values) > 1
                else await conn.execute(stmt, values[0])
            )
            new = {(r.platform, r.dedupe_key) for r in result}
            if new:  # wakes the inbox workers of every process and instance at commit
                await wake.announce(conn, "inbox")
            return new
