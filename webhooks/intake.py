"""The inbox worker: claims stored inbound items and turns them into commands and replies."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import texts
from bot.delivery import remember_response_code
from bot.inbound import CardAction, ChatMessage, Inbound
from bot.intents import Query, decide
from core import inbox
from core.bus import MessageBus
from core.errors import DomainError
from core.messages import Actor, Channel, Outbound
from core.people.directory import SqlPeopleRepository, identify
from core.queue import backoff
from core.tickets.repository import TicketFilter
from core.tickets.workflow import OPEN_STATUSES, STATUS_ZH
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
        max_attempts: int = 8,
        action_secret: bytes = b"",
    ) -> None:
        self.action_secret = action_secret
        self.engine = engine
        self.bus = bus
        self.clock = bus.clock
        self.batch = batch
        self.max_attempts = max_attempts

    async def run_once(self) -> int:
        async with self.engine.begin() as conn:
            rows = await inbox.claim_inbox(conn, now=self.clock.now(), limit=self.batch)
        for row in rows:
            await self._process(row)
        return len(rows)

    async def _process(self, row: dict[str, Any]) -> None:
        try:
            item = _INBOUND.validate_python(row["payload"])
            await self._handle(row["id"], item)
        except Exception as exc:
            log.exception("inbox row %s failed (attempt %s)", row["id"], row["attempts"])
            retry_at = None
            if row["attempts"] < self.max_attempts:
                retry_at = self.clock.now() + timedelta(seconds=backoff(row["attempts"]))
            async with self.engine.begin() as conn:
                await inbox.mark_failed(
                    conn, row["id"], error=f"{type(exc).__name__}: {exc}", retry_at=retry_at
                )
            return
        async with self.engine.begin() as conn:
            await inbox.mark_done(conn, row["id"], at=self.clock.now())

    async def _actor(self, item: ChatMessage | CardAction) -> Actor:
        async with SqlUnitOfWork(self.engine) as uow:
            person = await identify(
                uow.people,
                uow.conn,
                platform=item.platform,
                user_id=item.user_id,
                display_name=getattr(item, "user_name", ""),
                at=self.clock.now(),
            )
            await uow.commit()
        return person.actor(Channel(item.platform))

    async def _handle(self, row_id: int, item: ChatMessage | CardAction) -> None:
        actor = await self._actor(item)
        if isinstance(item, CardAction):
            async with self.engine.begin() as conn:
                await remember_response_code(
                    conn,
                    platform=item.platform,
                    card_key=item.card_key,
                    response_code=item.response_code,
                    at=self.clock.now(),
                )
        decision = decide(item, actor=actor, config=self.bus.config, secret=self.action_secret)
        replies = list(decision.replies)
        for i, command in enumerate(decision.commands):
            command = type(command)(**{**command.__dict__, "source": f"inbox:{row_id}:{i}"})
            try:
                await self.bus.handle(command)
            except DomainError as exc:
                replies.append(exc.message)
        for query in decision.queries:
            replies.append(await self._answer(query, actor))
        if replies:
            await self._reply(row_id, item, "\n".join(replies))

    async def _answer(self, query: Query, actor: Actor) -> str:
        async with SqlUnitOfWork(self.engine) as uow:
            if query.name == "my_tickets":
                is_engineer = actor.has("engineer")
                flt = TicketFilter(
                    status=[s.value for s in OPEN_STATUSES],
                    assignee_id=actor.person_id if is_engineer else None,
                    requester_id=None if is_engineer else actor.person_id,
                    limit=10,
                )
                tickets, total = await uow.tickets.list(flt)
                if not tickets:
                    return texts.NO_TICKETS
                lines = [
                    texts.TICKET_LINE.format(ref=t.ref, title=t.title, status=STATUS_ZH[t.status])
                    for t in tickets
                ]
                more = f"\n（共 {total} 个，仅显示最近 10 个）" if total > 10 else ""
                return "您未完成的工单：\n" + "\n".join(lines) + more
            assert query.ticket_id is not None
            ticket = await uow.tickets.get(query.ticket_id, with_history=False)
            ref = f"#{query.ticket_id}"
            if ticket is None:
                return f"没有找到工单 {ref}，请检查编号。"
            involved = actor.person_id in (ticket.requester_id, ticket.assignee_id) or actor.has(
                "agent", "manager", "stock_keeper"
            )
            if not involved:
                return texts.NOT_INVOLVED.format(ref=ref)
            assignee = await uow.people.get(ticket.assignee_id) if ticket.assignee_id else None
            ticket_type = self.bus.config.ticket_type(ticket.type)
            return texts.TICKET_DETAIL.format(
                ref=ticket.ref,
                type=ticket_type.name if ticket_type else ticket.type,
                title=ticket.title,
                status=STATUS_ZH[ticket.status],
                assignee=assignee.name if assignee else "待分配",
                created=ticket.created_at.astimezone().strftime("%m-%d %H:%M"),
            )

    async def _reply(self, row_id: int, msg: ChatMessage | CardAction, text: str) -> None:
        group = isinstance(msg, ChatMessage) and msg.conversation_type == "group"
        async with SqlUnitOfWork(self.engine) as uow:
            await uow.add_outbound(
                Outbound(
                    platform=msg.platform,
                    user_id=msg.user_id,
                    conversation_id=msg.conversation_id if group else "",
                    text=text,
                    dedupe_key=f"inbox:{row_id}:reply",
                ),
                at=self.clock.now(),
            )
            await uow.commit()


__all__ = ["InboxWorker", "SqlPeopleRepository"]
