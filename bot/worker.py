"""The inbox worker: claims stored inbound items and turns them into commands and replies."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import answers, dialog_store, poison, texts
from bot.decision import KEEP, Decision, Query, Situation
from bot.delivery import remember_response_code
from bot.inbound import CardAction, ChatMessage, Inbound
from bot.intents import decide
from bot.kb_chat import KbChat, new_report_text
from core import inbox
from core.bus import DUPLICATE, MessageBus
from core.errors import DomainError, ValidationFailed
from core.kb.search import KnowledgeSearch
from core.messages import Actor, Channel, Outbound
from core.people.directory import identify
from core.people.ids import valid_user_id
from core.people.model import Person
from core.queue import backoff
from core.settings import AssetConfig, DeskConfig
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
        lease_s: float = 60,
        action_secret: bytes = b"",
        public_base_url: str = "http://127.0.0.1:8080",
        dashboard_link: Callable[[str], str] | None = None,
    ) -> None:
        self.action_secret = action_secret
        self.dashboard_link = dashboard_link  # person id -> signed /dashboard link (统计)
        self.engine = engine
        self.bus = bus
        self.clock = bus.clock
        self.batch = batch
        self.max_attempts = max_attempts
        self.lease_s = lease_s
        self.kb = KbChat(
            engine=engine,
            clock=self.clock,
            search=KnowledgeSearch(bus.config),
            base_url=public_base_url,
        )

    async def run_once(self) -> int:
        async with self.engine.begin() as conn:
            rows = await inbox.claim_inbox(
                conn, now=self.clock.now(), limit=self.batch, lease_s=self.lease_s
            )
        for row in rows:
            await self._process(row)
        return len(rows)

    async def _process(self, row: dict[str, Any]) -> None:
        try:
            item = _INBOUND.validate_python(row["payload"])
            if item.user_id and not valid_user_id(item.platform, item.user_id):
                raise poison.Poison(f"not one {item.platform} user id: {item.user_id[:64]!r}")
            await self._handle(row["id"], item)
        except Exception as exc:
            await self._failed(row, exc)
            return
        async with self.engine.begin() as conn:
            await inbox.mark_done(conn, row["id"], at=self.clock.now())

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
        async with self.engine.begin() as conn:
            await inbox.mark_failed(conn, row["id"], error=why, retry_at=retry_at)
        to = poison.sender(row["payload"]) if retry_at is None else None
        if to is not None:
            try:
                await self._tell(row["id"], to, poison.REPLY)
            except Exception as reply_exc:  # the row is dead already; do not loop on it
                log.error("inbox row %s: no reply sent: %s", row["id"], poison.one_line(reply_exc))

    async def _person(self, item: ChatMessage | CardAction) -> Person:
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
        return person

    async def _situation(
        self, row_id: int, item: ChatMessage | CardAction, actor: Actor
    ) -> Situation:
        now = self.clock.now()
        async with self.engine.begin() as conn:
            dialog, expired = await dialog_store.load(conn, item.platform, item.user_id, now=now)
        if expired:
            await self._reply(row_id, item, texts.DIALOG_EXPIRED, suffix="expired")
        facts = await answers.open_facts(self.engine, actor.person_id)
        suggestions: tuple[dict[str, Any], ...] = ()
        if not dialog and self.bus.config.kb.suggest_at_intake:
            report = new_report_text(item, actor)
            if report:
                suggestions = tuple(await self.kb.suggestions(report))
        return Situation(
            now=now,
            dialog=dialog,
            open_tickets=facts,
            suggestions=suggestions,
            key=f"kbs_{row_id}",
        )

    async def _with_registered_assets(self, item: ChatMessage | CardAction) -> DeskConfig:
        """The config, its asset list completed by the registered machines the message names:
        a number imported into the registry is known to the intake dialog like a configured one
        (when the config lists no assets every number is accepted anyway)."""
        config = self.bus.config
        text = item.text if isinstance(item, ChatMessage) else ""
        if not config.assets or not text:
            return config
        known = {a.id.upper() for a in config.assets}
        async with SqlUnitOfWork(self.engine) as uow:
            found = await uow.assets.all_in_text(text)
        extra = [AssetConfig(id=a.id, model=a.model, region=a.region) for a in found
                 if a.id.upper() not in known]  # fmt: skip
        return config.model_copy(update={"assets": [*config.assets, *extra]}) if extra else config

    async def _handle(self, row_id: int, item: ChatMessage | CardAction) -> None:
        marker = f"inbox:{row_id}:handled"
        async with SqlUnitOfWork(self.engine) as uow:
            if not await uow.mark_processed(marker, at=self.clock.now()):
                return  # handled before a crash; only the done mark was lost
        if isinstance(item, ChatMessage) and item.media:
            await self._fetch_media(item)

        person = await self._person(item)
        if person.former_staff:
            log.info("inbox row %s: %s is no longer on the desk; told so", row_id, person.id)
            closing = Decision(dialog=KEEP)
            async with SqlUnitOfWork(self.engine) as uow:
                await self._close(
                    uow, row_id, item, closing, [texts.NO_LONGER_ON_DESK], marker, False
                )
                await uow.commit()
            return
        actor = person.actor(Channel(item.platform))
        if isinstance(item, CardAction):
            async with self.engine.begin() as conn:
                await remember_response_code(
                    conn,
                    platform=item.platform,
                    card_key=item.card_key,
                    response_code=item.response_code,
                    at=self.clock.now(),
                )
        situation = await self._situation(row_id, item, actor)
        decision = decide(
            item,
            actor=actor,
            config=await self._with_registered_assets(item),
            secret=self.action_secret,
            situation=situation,
        )
        if decision.precheck is not None:
            refusal = await self._refusal(decision.precheck)
            if refusal is not None:  # e.g. a stale 拒单 / 驳回: already decided, ask nothing
                decision = Decision(replies=[refusal], dialog=None)
        replies = list(decision.replies)
        failed = False
        for i, command in enumerate(decision.commands):
            last = i == len(decision.commands) - 1 and not (decision.queries or decision.cards)
            closing = None
            if last:  # the reply, the dialog and the handled mark commit with the command

                async def closing(ctx: Any) -> None:
                    await self._close(ctx.uow, row_id, item, decision, replies, marker, False)

            try:
                result = await self.bus.handle(
                    replace(command, source=f"inbox:{row_id}:{i}"), also=closing
                )
            except DomainError as exc:
                replies.append(exc.message)
                failed = True
                continue
            if last and result is not DUPLICATE:
                return
        for query in decision.queries:
            replies.extend(await self._answer(row_id, item, query, actor))
        await self.kb.send_cards(row_id, item, decision.cards)
        async with SqlUnitOfWork(self.engine) as uow:
            await self._close(uow, row_id, item, decision, replies, marker, failed)
            await uow.commit()

    async def _close(
        self,
        uow: SqlUnitOfWork,
        row_id: int,
        item: ChatMessage | CardAction,
        decision: Decision,
        replies: list[str],
        marker: str,
        keep_on_failure: bool,
    ) -> None:
        """The end of one inbox row, in the caller's transaction: the dialog state, the reply
        and the handled mark, so that a crash can neither replay a decision nor repeat a reply."""
        dialog = decision.dialog
        if not (dialog is KEEP or (keep_on_failure and dialog is None)):
            if dialog is None:
                await dialog_store.clear(uow.conn, item.platform, item.user_id)
            else:
                await dialog_store.save(uow.conn, item.platform, item.user_id, dialog)
        if replies:
            await uow.add_outbound(
                self._reply_message(row_id, item, "\n".join(replies)), at=self.clock.now()
            )
        await uow.mark_processed(marker, at=self.clock.now())

    async def _refusal(self, command: Any) -> str | None:
        """Why ``command`` (sent without its reason) would be refused, other than for that."""
        try:
            await self.bus.handle(command)
        except ValidationFailed as exc:
            if all(e.field == "reason" for e in exc.errors):
                return None
            return exc.message
        except DomainError as exc:
            return exc.message
        return None

    async def _fetch_media(self, item: ChatMessage) -> None:
        """Queue every photo or file for download now: platform media ids expire within days."""
        async with SqlUnitOfWork(self.engine) as uow:
            for m in item.media:
                await uow.add_outbound(
                    Outbound(
                        platform=item.platform,
                        kind="fetch_media",
                        coalesce=False,
                        dedupe_key=f"media:{item.platform}:{m.media_id}"[:255],
                        extra={"media_id": m.media_id},
                    ),
                    at=self.clock.now(),
                )
            await uow.commit()

    async def _answer(
        self, row_id: int, item: ChatMessage | CardAction, query: Query, actor: Actor
    ) -> list[str]:
        if query.name == "kb":
            return await self.kb.answer(row_id, item, query.text, actor)
        if query.name == "summary":
            from core.reports.summary import summary_card_args

            async with SqlUnitOfWork(self.engine) as uow:
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
                await uow.commit()
            return []
        return [
            await answers.answer_text(
                self.engine,
                query,
                actor,
                self.bus.config,
                self.clock.now(),
                secret=self.action_secret,
            )
        ]

    @staticmethod
    def _reply_message(
        row_id: int, msg: ChatMessage | CardAction, text: str, suffix: str = "reply"
    ) -> Outbound:
        group = isinstance(msg, ChatMessage) and msg.conversation_type == "group"
        return Outbound(
            platform=msg.platform,
            user_id=msg.user_id,
            conversation_id=msg.conversation_id if group else "",
            text=text,
            dedupe_key=f"inbox:{row_id}:{suffix}",
        )

    async def _reply(
        self, row_id: int, msg: ChatMessage | CardAction, text: str, suffix: str = "reply"
    ) -> None:
        async with SqlUnitOfWork(self.engine) as uow:
            await uow.add_outbound(
                self._reply_message(row_id, msg, text, suffix), at=self.clock.now()
            )
            await uow.commit()

    async def _tell(self, row_id: int, to: tuple[str, str], text: str) -> None:
        async with SqlUnitOfWork(self.engine) as uow:
            await uow.add_outbound(
                Outbound(
                    platform=to[0], user_id=to[1], text=text, dedupe_key=f"inbox:{row_id}:failed"
                ),
                at=self.clock.now(),
            )
            await uow.commit()

    async def expire_dialogs(self) -> int:
        """Scheduler: end dialogs that ran out and tell the person (once)."""
        now = self.clock.now()
        async with self.engine.begin() as conn:
            expired = await dialog_store.take_expired(conn, now)
        for platform, user_id, state in expired:
            if state.get("kind") in ("photos", "kb_suggest"):
                continue  # held photos and unanswered suggestions simply lapse
            async with SqlUnitOfWork(self.engine) as uow:
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
