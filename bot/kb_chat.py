"""Knowledge in chat: the 知识 card, and the articles suggested at intake (read side).

The inbox worker calls these; they read the index, record what was searched and shown (for the
knowledge-gap and deflection reports) and queue cards through the outbox.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncConnection

from bot import grammar, texts
from bot.decision import STAFF_ROLES, OutCard
from bot.inbound import CardAction, ChatMessage, MessageKind
from core.clock import Clock
from core.kb.model import Article, EventKind
from core.kb.search import KnowledgeSearch
from core.messages import Actor, Outbound
from core.uow import SqlUnitOfWork


def article_url(base_url: str, article_id: str) -> str:
    return f"{base_url.rstrip('/')}/kb/{quote(article_id, safe='')}"


def card_articles(base_url: str, articles: list[Article]) -> list[dict[str, Any]]:
    return [
        {"id": a.id, "title": a.title, "summary": a.summary, "url": article_url(base_url, a.id)}
        for a in articles
    ]


def _target(item: ChatMessage | CardAction) -> dict[str, str]:
    group = isinstance(item, ChatMessage) and item.conversation_type == "group"
    return {
        "platform": item.platform,
        "user_id": item.user_id,
        "conversation_id": item.conversation_id if group else "",
    }


def new_report_text(item: ChatMessage | CardAction, actor: Actor) -> str:
    """The problem a customer describes when this message may start an intake, else ""."""
    if not isinstance(item, ChatMessage) or item.kind is not MessageKind.TEXT:
        return ""
    if actor.has(*STAFF_ROLES):
        return ""
    parsed = grammar.parse(item.text.strip())
    if parsed is None:
        return item.text.strip()
    return parsed.text if parsed.name == "new" else ""


class KbChat:
    def __init__(self, *, clock: Clock, search: KnowledgeSearch, base_url: str) -> None:
        self.clock = clock
        self.search = search
        self.base_url = base_url

    async def answer(
        self,
        uow: SqlUnitOfWork,
        row_id: int,
        item: ChatMessage | CardAction,
        query: str,
        actor: Actor,
    ) -> list[str]:
        """知识 <关键词>: the top three as a card, or a short text when nothing is relevant."""
        found = await self.search.articles(uow.conn, query, limit=3, build=False)
        await uow.kb.record(
            EventKind.SEARCH,
            at=self.clock.now(),
            query=query,
            person_id=actor.person_id,
            channel=item.platform,
            hits=len(found),
        )
        if found:
            args = {"query": query[:40], "articles": card_articles(self.base_url, found)}
            await uow.add_outbound(
                Outbound(
                    **_target(item),
                    kind="card",
                    card={"builder": "kb_results", "args": args},
                    card_key=f"kb_{row_id}",
                    dedupe_key=f"inbox:{row_id}:kb",
                ),
                at=self.clock.now(),
            )
        return [] if found else [texts.KB_NOTHING.format(query=query[:40])]

    async def suggestions(self, conn: AsyncConnection, text: str) -> list[dict[str, Any]]:
        """Articles worth showing a customer who describes a problem (none when weak)."""
        if not text.strip():
            return []
        found = await self.search.articles(conn, text, limit=3, build=False)
        return card_articles(self.base_url, found)

    async def send_cards(
        self, uow: SqlUnitOfWork, row_id: int, item: ChatMessage | CardAction, cards: list[OutCard]
    ) -> None:
        """The cards a chat decision sends (suggestions) or updates (after 已解决 / 仍需报修)."""
        if not cards:
            return
        for i, card in enumerate(cards):
            intent: dict[str, Any] = {"builder": card.builder, "args": card.args}
            if card.status:
                intent["status"] = card.status
            await uow.add_outbound(
                Outbound(
                    **_target(item),
                    kind="card_update" if card.update else "card",
                    card=intent,
                    card_key=card.key,
                    dedupe_key=f"inbox:{row_id}:card:{i}",
                ),
                at=self.clock.now(),
            )
