"""Knowledge suggestions at intake: before a ticket is created the customer sees up to three
articles with 已解决 / 仍需报修 (CONTRACT §7).

已解决 records a deflection and creates nothing; 仍需报修 (or typing anything else) goes on
with the intake exactly as if no article had been shown. The pending report waits in the
dialog state (``kb_suggest``), which also names the card, so a click on an older card or a
second click changes nothing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from bot import texts
from bot.decision import Decision, OutCard, Situation, with_expiry
from bot.inbound import CardAction, ChatMessage, MessageKind
from cards.actions import ActionKind, ActionRef
from cards.kb import MORE_TEXT, SOLVED_TEXT
from core.kb.commands import RecordKbOutcome
from core.kb.model import EventKind
from core.messages import Actor
from core.settings import DeskConfig

SOLVED_WORDS = frozenset({"已解决", "解决了", "好了", "可以了"})
MORE_WORDS = frozenset({"仍需报修", "还是不行", "没解决", "继续报修"})


def suggest(
    msg: ChatMessage, actor: Actor, situation: Situation, description: str, photos: list[str]
) -> Decision:
    articles = list(situation.suggestions)[:3]
    key = situation.key
    state = {
        "kind": "kb_suggest",
        "card_key": key,
        "articles": articles,
        "description": description,
        "photos": photos,
        "conversation_id": msg.conversation_id,
        "conversation_type": msg.conversation_type,
    }
    ids = tuple(str(a["id"]) for a in articles)
    return Decision(
        commands=[
            RecordKbOutcome(actor=actor, kind=EventKind.SUGGEST, article_ids=ids, query=description)
        ],
        cards=[OutCard("kb_suggest", {"articles": articles}, key)],
        replies=[texts.KB_SUGGESTED],
        dialog=with_expiry(state, situation.now),
    )


def _as_message(item: ChatMessage | CardAction, state: dict[str, Any], text: str) -> ChatMessage:
    """The report as the customer first sent it (for where the intake answers)."""
    return ChatMessage(
        platform=item.platform,
        dedupe_key=item.dedupe_key,
        user_id=item.user_id,
        conversation_id=str(state.get("conversation_id", "")),
        conversation_type="group" if state.get("conversation_type") == "group" else "single",
        kind=MessageKind.TEXT,
        text=text,
    )


def _finished(state: dict[str, Any], actor: Actor, what: str, now: datetime) -> OutCard:
    status = f"{actor.name} {what} {now.strftime('%m-%d %H:%M')}"
    return OutCard(
        "kb_suggest", {"articles": state.get("articles", [])}, state["card_key"], status, True
    )


def answer(
    item: ChatMessage | CardAction,
    actor: Actor,
    config: DeskConfig,
    situation: Situation,
    *,
    solved: bool,
    extra: str = "",
) -> Decision:
    """已解决 or 仍需报修 for the pending suggestions in ``situation.dialog``."""
    from bot.intake import start_intake  # intake imports this module

    state = situation.dialog or {}
    ids = tuple(str(a.get("id", "")) for a in state.get("articles", []))
    description = str(state.get("description", ""))
    if solved:
        return Decision(
            commands=[
                RecordKbOutcome(
                    actor=actor, kind=EventKind.DEFLECTED, article_ids=ids, query=description
                )
            ],
            replies=[texts.KB_DEFLECTED],
            cards=[_finished(state, actor, SOLVED_TEXT, situation.now)],
            dialog=None,
        )
    text = f"{description}\n{extra}".strip() if extra else description
    msg = _as_message(item, state, text)
    plain = replace(situation, suggestions=(), dialog=None)
    decision = start_intake(msg, actor, config, plain, text, list(state.get("photos", [])))
    outcome = RecordKbOutcome(
        actor=actor, kind=EventKind.ESCALATED, article_ids=ids, query=description
    )
    decision.commands.insert(0, outcome)
    decision.cards.append(_finished(state, actor, MORE_TEXT, situation.now))
    return decision


def clicked(
    ref: ActionRef,
    msg: CardAction,
    actor: Actor,
    config: DeskConfig,
    situation: Situation,
) -> Decision:
    state = situation.dialog or {}
    if state.get("kind") != "kb_suggest" or state.get("card_key") != msg.card_key:
        return Decision(replies=[texts.KB_SUGGEST_DONE])
    return answer(msg, actor, config, situation, solved=ref.kind is ActionKind.KB_SOLVED)


def typed(
    msg: ChatMessage, actor: Actor, config: DeskConfig, situation: Situation, text: str
) -> Decision:
    """Text while suggestions wait: 已解决 / 仍需报修 in words, or more about the problem."""
    word = text.strip().rstrip("。！!")
    if word in SOLVED_WORDS:
        return answer(msg, actor, config, situation, solved=True)
    if word in MORE_WORDS:
        return answer(msg, actor, config, situation, solved=False)
    return answer(msg, actor, config, situation, solved=False, extra=text)
