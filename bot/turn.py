"""One chat turn: a stored inbound item becomes its decision, commands, replies and done mark,
all in one transaction.

Who sent it, their dialog, their open tickets, the decision, every command it issues (each in a
savepoint, so a refused one undoes only itself), the answers, the reply, the new dialog state and
the inbox row's done mark commit together. A crash at any point leaves nothing half-done, and
the row is simply handled again. The done mark is conditional on the claim (status and attempt
number), so when a lease ran out and another worker took the row, only one of the two commits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from bot import answers, dialog_store, texts
from bot.decision import KEEP, Decision, OpenFact, Query, Situation
from bot.delivery import remember_response_code
from bot.inbound import CardAction, ChatMessage
from bot.intents import decide
from bot.kb_chat import KbChat, new_report_text
from core import inbox
from core.bus import MessageBus
from core.errors import DomainError, ValidationFailed
from core.kb.search import IndexOutOfDate
from core.messages import Actor, Channel, Outbound
from core.people.directory import identify
from core.people.model import Person
from core.settings import AssetConfig, DeskConfig
from core.uow import SqlUnitOfWork

log = logging.getLogger(__name__)

Item = ChatMessage | CardAction
INDEX_RETRIES = 3  # rebuilds of the knowledge index one turn waits for before it gives up


def reply_message(row_id: int, item: Item, text: str, suffix: str = "reply") -> Outbound:
    group = isinstance(item, ChatMessage) and item.conversation_type == "group"
    return Outbound(
        platform=item.platform,
        user_id=item.user_id,
        conversation_id=item.conversation_id if group else "",
        text=text,
        dedupe_key=f"inbox:{row_id}:{suffix}",
    )


class ChatTurn:
    def __init__(
        self,
        *,
        bus: MessageBus,
        kb: KbChat,
        action_secret: bytes,
        dashboard_link: Callable[[str], str] | None,
    ) -> None:
        self.bus = bus
        self.clock = bus.clock
        self.kb = kb
        self.action_secret = action_secret
        self.dashboard_link = dashboard_link

    async def handle(self, engine: Any, row: dict[str, Any], item: Item) -> bool:
        """Handle the row; False when another worker finished it first (nothing committed).

        A turn that needs the knowledge index while it is out of date (articles were just
        imported) rolls back, waits for the rebuild outside any transaction and starts again:
        on SQLite the turn holds the one write lock, and the acks must not wait seconds for it.
        """
        for _ in range(INDEX_RETRIES):
            try:
                return await self._handle(engine, row, item)
            except IndexOutOfDate:
                await self.kb.search.refresh(engine)
        return await self._handle(engine, row, item)  # changed again each time: transient

    async def _handle(self, engine: Any, row: dict[str, Any], item: Item) -> bool:
        row_id = row["id"]
        async with SqlUnitOfWork(engine) as uow:
            await uow.begin_write()  # SQLite: the lock first, so nothing read can go stale
            person = await self._person(uow, item)
            await self._work(uow, row_id, item, person)
            if not await inbox.mark_done(
                uow.conn, row_id, at=self.clock.now(), attempt=row["attempts"]
            ):
                log.info("inbox row %s was finished by another worker", row_id)
                return False
            await uow.commit()
        return True

    async def _person(self, uow: SqlUnitOfWork, item: Item) -> Person:
        """Who sent it; someone new is registered as a customer in the same transaction (their
        number comes from a sequence on PostgreSQL, so no lock is held until the commit)."""
        return await identify(
            uow.people,
            uow.conn,
            platform=item.platform,
            user_id=item.user_id,
            display_name=getattr(item, "user_name", ""),
            at=self.clock.now(),
        )

    async def _work(self, uow: SqlUnitOfWork, row_id: int, item: Item, person: Person) -> None:
        now = self.clock.now()
        if isinstance(item, ChatMessage) and item.media:
            await self._fetch_media(uow, item, now)
        if person.former_staff:
            log.info("inbox row %s: %s is no longer on the desk; told so", row_id, person.id)
            await self._close(uow, row_id, item, Decision(dialog=KEEP), [texts.NO_LONGER_ON_DESK])
            return
        actor = person.actor(Channel(item.platform))
        if isinstance(item, CardAction):
            await remember_response_code(
                uow.conn,
                platform=item.platform,
                card_key=item.card_key,
                response_code=item.response_code,
                at=now,
            )
        situation = await self._situation(uow, row_id, item, actor, now)
        decision = decide(
            item,
            actor=actor,
            config=await self._with_registered_assets(uow, item),
            secret=self.action_secret,
            situation=situation,
        )
        if decision.precheck is not None:
            refusal = await self._refusal(uow, decision.precheck)
            if refusal is not None:  # e.g. a stale 拒单 / 驳回: already decided, ask nothing
                decision = Decision(replies=[refusal], dialog=None)
        replies = list(decision.replies)
        failed = False
        for i, command in enumerate(decision.commands):
            try:
                async with uow.savepoint():
                    await self.bus.run(replace(command, source=f"inbox:{row_id}:{i}"), uow)
            except DomainError as exc:
                replies.append(exc.message)
                failed = True
        for query in decision.queries:
            replies.extend(await self._answer(uow, row_id, item, query, actor))
        await self.kb.send_cards(uow, row_id, item, decision.cards)
        await self._close(uow, row_id, item, decision, replies, keep_on_failure=failed)

    async def _situation(
        self, uow: SqlUnitOfWork, row_id: int, item: Item, actor: Actor, now: datetime
    ) -> Situation:
        dialog, expired = await dialog_store.load(uow.conn, item.platform, item.user_id, now=now)
        if expired:
            await uow.add_outbound(
                reply_message(row_id, item, texts.DIALOG_EXPIRED, suffix="expired"), at=now
            )
        facts: tuple[OpenFact, ...] = ()
        if actor.person_id not in uow.people.registered:  # someone new has no tickets (FK)
            facts = await answers.open_facts(uow.conn, actor.person_id)
        suggestions: tuple[dict[str, Any], ...] = ()
        if not dialog and self.bus.config.kb.suggest_at_intake:
            report = new_report_text(item, actor)
            if report:
                suggestions = tuple(await self.kb.suggestions(uow.conn, report))
        return Situation(
            now=now, dialog=dialog, open_tickets=facts, suggestions=suggestions, key=f"kbs_{row_id}"
        )

    async def _with_registered_assets(self, uow: SqlUnitOfWork, item: Item) -> DeskConfig:
        """The config, its asset list completed by the registered machines the message names:
        a number imported into the registry is known to the intake dialog like a configured one
        (when the config lists no assets every number is accepted anyway)."""
        config = self.bus.config
        text = item.text if isinstance(item, ChatMessage) else ""
        if not config.assets or not text:
            return config
        known = {a.id.upper() for a in config.assets}
        found = await uow.assets.all_in_text(text)
        extra = [AssetConfig(id=a.id, model=a.model, region=a.region) for a in found
                 if a.id.upper() not in known]  # fmt: skip
        return config.model_copy(update={"assets": [*config.assets, *extra]}) if extra else config

    async def _refusal(self, uow: SqlUnitOfWork, command: Any) -> str | None:
        """Why ``command`` (sent without its reason) would be refused, other than for that.
        It runs in a savepoint that is always undone."""
        try:
            async with uow.savepoint(keep=False):
                await self.bus.run(command, uow)
        except ValidationFailed as exc:
            if all(e.field == "reason" for e in exc.errors):
                return None
            return exc.message
        except DomainError as exc:
            return exc.message
        return None

    async def _close(
        self,
        uow: SqlUnitOfWork,
        row_id: int,
        item: Item,
        decision: Decision,
        replies: list[str],
        *,
        keep_on_failure: bool = False,
    ) -> None:
        """The end of the turn: the dialog state and the reply (the done mark follows)."""
        dialog = decision.dialog
        if not (dialog is KEEP or (keep_on_failure and dialog is None)):
            if dialog is None:
                await dialog_store.clear(uow.conn, item.platform, item.user_id)
            else:
                await dialog_store.save(uow.conn, item.platform, item.user_id, dialog)
        if replies:
            await uow.add_outbound(
                reply_message(row_id, item, "\n".join(replies)), at=self.clock.now()
            )

    @staticmethod
    async def _fetch_media(uow: SqlUnitOfWork, item: ChatMessage, now: datetime) -> None:
        """Queue every photo or file for download now: platform media ids expire within days."""
        for m in item.media:
            await uow.add_outbound(
                Outbound(
                    platform=item.platform,
                    kind="fetch_media",
                    coalesce=False,
                    dedupe_key=f"media:{item.platform}:{m.media_id}"[:255],
                    extra={"media_id": m.media_id},
                ),
                at=now,
            )

    async def _answer(
        self, uow: SqlUnitOfWork, row_id: int, item: Item, query: Query, actor: Actor
    ) -> list[str]:
        if query.name == "kb":
            return await self.kb.answer(uow, row_id, item, query.text, actor)
        if query.name == "summary":
            from core.reports.summary import summary_card_args

            args = await summary_card_args(
                uow.conn, period=query.period, now=self.clock.now(), config=self.bus.config
            )
            if self.dashboard_link is not None:
                args["dashboard_url"] = self.dashboard_link(actor.person_id)
            await uow.add_outbound(
                Outbound(
                    platform=item.platform,
                    user_id=item.user_id,
                    kind="card",
                    card={"builder": "summary", "args": args},
                    card_key=f"sum_{row_id}",
                    dedupe_key=f"inbox:{row_id}:summary",
                ),
                at=self.clock.now(),
            )
            return []
        text = await answers.answer_text(
            uow, query, actor, self.bus.config, self.clock.now(), secret=self.action_secret
        )
        return [text]
