"""The inbox worker: claims stored inbound items and hands each to a chat turn (bot/turn.py).

A claim takes, oldest first, only the earliest unfinished row of each person (core/inbox.py),
so the rows of one claim belong to different people and run concurrently, up to
``concurrency`` at a time, while one person's messages are handled strictly in order, across
workers and instances alike. Each row is one transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import dialog_store, poison, texts
from bot.inbound import CardAction, ChatMessage, Inbound
from bot.kb_chat import KbChat
from bot.turn import ChatTurn
from core import inbox
from core.bus import MessageBus
from core.kb.search import KnowledgeSearch
from core.messages import Outbound
from core.people.ids import valid_user_id
from core.queue import backoff
from core.uow import SqlUnitOfWork

log = logging.getLogger(__name__)
_INBOUND: TypeAdapter[ChatMessage | CardAction] = TypeAdapter(Inbound)


class InboxWorker:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        bus: MessageBus,
        batch: int = 20,
        concurrency: int = 1,
        max_attempts: int = 8,
        lease_s: float = 60,
        action_secret: bytes = b"",
        public_base_url: str = "http://127.0.0.1:8080",
        dashboard_link: Callable[[str], str] | None = None,
    ) -> None:
        self.engine = engine
        self.bus = bus
        self.clock = bus.clock
        self.batch = batch
        self.concurrency = max(1, concurrency)
        self.max_attempts = max_attempts
        self.lease_s = lease_s
        self.kb = KbChat(
            clock=self.clock, search=KnowledgeSearch(bus.config), base_url=public_base_url
        )
        self.turn = ChatTurn(
            bus=bus, kb=self.kb, action_secret=action_secret, dashboard_link=dashboard_link
        )

    async def run_once(self) -> int:
        async with self.engine.begin() as conn:
            rows = await inbox.claim_inbox(
                conn, now=self.clock.now(), limit=self.batch, lease_s=self.lease_s
            )
        if self.concurrency == 1 or len(rows) < 2:
            for row in rows:
                await self._process(row)
            return len(rows)
        slots = asyncio.Semaphore(self.concurrency)

        async def one(row: dict[str, Any]) -> None:
            async with slots:
                await self._process(row)

        await asyncio.gather(*(one(row) for row in rows))
        return len(rows)

    async def _process(self, row: dict[str, Any]) -> None:
        try:
            item = _INBOUND.validate_python(row["payload"])
            if item.user_id and not valid_user_id(item.platform, item.user_id):
                raise poison.Poison(f"not one {item.platform} user id: {item.user_id[:64]!r}")
            await self.turn.handle(self.engine, row, item)
        except Exception as exc:
            await self._failed(row, exc)

    async def _failed(self, row: dict[str, Any], exc: Exception) -> None:
        """Passing trouble is retried with backoff; anything else is dead-lettered at once
        with one log line, and the sender (when there is a sound one) is answered politely."""
        why = poison.one_line(exc)
        retry_at = None
        if poison.transient(exc) and row["attempts"] < self.max_attempts:
            retry_at = self.clock.now() + timedelta(seconds=backoff(row["attempts"]))
            log.warning(
                "inbox row %s failed (attempt %s), retrying: %s", row["id"], row["attempts"], why
            )
        else:
            log.error(
                "inbox row %s dead-lettered (attempt %s): %s", row["id"], row["attempts"], why
            )
        to = poison.sender(row["payload"]) if retry_at is None else None
        try:
            async with SqlUnitOfWork(self.engine) as uow:
                await inbox.mark_failed(uow.conn, row["id"], error=why, retry_at=retry_at)
                if to is not None:
                    await uow.add_outbound(
                        Outbound(
                            platform=to[0],
                            user_id=to[1],
                            text=poison.REPLY,
                            dedupe_key=f"inbox:{row['id']}:failed",
                        ),
                        at=self.clock.now(),
                    )
                await uow.commit()
        except Exception as mark_exc:  # the database itself is away: the lease brings it back
            log.error(
                "inbox row %s: failure not recorded: %s", row["id"], poison.one_line(mark_exc)
            )

    async def expire_dialogs(self) -> int:
        """Scheduler: end dialogs that ran out and tell the person (once), in one transaction."""
        now = self.clock.now()
        async with SqlUnitOfWork(self.engine) as uow:
            expired = await dialog_store.take_expired(uow.conn, now)
            for platform, user_id, state in expired:
                if state.get("kind") in ("photos", "kb_suggest"):
                    continue  # held photos and unanswered suggestions simply lapse
                await uow.add_outbound(
                    Outbound(
                        platform=platform,
                        user_id=user_id,
                        text=texts.DIALOG_EXPIRED,
                        dedupe_key=f"dialog-expired:{platform}:{user_id}:{state.get('expires_at', '')}",
                    ),
                    at=now,
                )
            await uow.commit()
        return len(expired)
