"""One grammar for both platforms: a ChatMessage (or CardAction) becomes core commands.

This module only reads text and decides; it never changes state. The inbox worker runs the
commands through the bus and sends the replies.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from bot import texts
from bot.inbound import CardAction, ChatMessage, MessageKind
from cards.actions import ActionKind, ActionRef, BadAction
from core.messages import Actor, Command
from core.settings import DeskConfig, TicketTypeConfig
from core.tickets.commands import AcceptTicket, AddNote, DeclineTicket, OpenTicket

log = logging.getLogger(__name__)
_REF = r"#?\s*(\d{1,9})"
_ASSET = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{1,6}-?\d{2,10})(?![A-Za-z0-9])")


@dataclass(frozen=True)
class Query:
    """A read-only request answered by the worker from the database."""

    name: str  # my_tickets | show
    ticket_id: int | None = None


@dataclass
class Decision:
    commands: list[Command] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    queries: list[Query] = field(default_factory=list)


def _guess_type(config: DeskConfig, text: str) -> TicketTypeConfig:
    best, score = config.ticket_types[0], 0
    for t in config.ticket_types:
        hits = sum(1 for k in t.keywords if k in text)
        if hits > score:
            best, score = t, hits
    return best


def _fields_from_text(ticket_type: TicketTypeConfig, text: str, photos: list[str]) -> dict:
    values: dict = {}
    for spec in ticket_type.fields:
        if spec.type.value == "asset":
            match = _ASSET.search(text)
            if match:
                values[spec.key] = match.group(1).upper()
        elif spec.type.value == "images" and photos:
            values[spec.key] = photos
        elif spec.type.value == "text" and spec.required and spec.key not in values and text:
            values[spec.key] = text
    return values


def _card_action(msg: CardAction, actor: Actor, secret: bytes) -> Decision:
    try:
        ref = ActionRef.decode(msg.action, secret)
    except BadAction:
        log.warning("refused a %s card click with a forged or unknown action", msg.platform)
        return Decision()
    if ref.card_key != msg.card_key:
        log.warning("refused a %s card click whose action belongs to another card", msg.platform)
        return Decision()
    if ref.kind is ActionKind.ACCEPT:
        return Decision(commands=[AcceptTicket(actor=actor, ticket_id=ref.ticket_id)])
    if ref.kind is ActionKind.DECLINE:
        return Decision(commands=[DeclineTicket(actor=actor, ticket_id=ref.ticket_id)])
    return Decision()


def decide(
    msg: ChatMessage | CardAction, *, actor: Actor, config: DeskConfig, secret: bytes = b""
) -> Decision:
    """Turn one inbound item from ``actor`` into a Decision."""
    if isinstance(msg, CardAction):
        return _card_action(msg, actor, secret)
    if msg.kind in (MessageKind.EVENT, MessageKind.UNKNOWN, MessageKind.EMPTY):
        if msg.kind is MessageKind.EVENT and msg.event in ("enter_agent", "subscribe"):
            return Decision(replies=[texts.HELP_CUSTOMER])
        return Decision()
    text = msg.text.strip()
    if msg.kind is not MessageKind.TEXT and not text:
        return Decision(replies=[texts.UNSUPPORTED_MESSAGE])
    is_staff = actor.has("agent", "engineer", "manager", "stock_keeper")
    if re.fullmatch(r"(帮助|/help|help|\?|？)", text, re.I):
        return Decision(
            replies=[texts.HELP_CUSTOMER + (texts.HELP_STAFF_EXTRA if is_staff else "")]
        )
    if re.fullmatch(r"(我的工单|/my)", text, re.I):
        return Decision(queries=[Query("my_tickets")])
    if m := re.fullmatch(rf"(?:查看|/show)\s*{_REF}", text, re.I):
        return Decision(queries=[Query("show", int(m.group(1)))])
    if m := re.fullmatch(rf"(?:接单|/accept)\s*{_REF}", text, re.I):
        return Decision(commands=[AcceptTicket(actor=actor, ticket_id=int(m.group(1)))])
    if m := re.fullmatch(rf"(?:拒单|/decline)\s*{_REF}\s*(.*)", text, re.I | re.S):
        return Decision(
            commands=[
                DeclineTicket(actor=actor, ticket_id=int(m.group(1)), reason=m.group(2).strip())
            ]
        )
    if m := re.fullmatch(rf"(?:接单|/accept)\s*{_REF}", text, re.I):
        return Decision(commands=[AcceptTicket(actor=actor, ticket_id=int(m.group(1)))])
    if m := re.fullmatch(rf"(?:拒单|/decline)\s*{_REF}\s*(.*)", text, re.I | re.S):
        reason = m.group(2).strip()
        return Decision(
            commands=[DeclineTicket(actor=actor, ticket_id=int(m.group(1)), reason=reason)]
        )
    if m := re.fullmatch(rf"(?:备注|/note)\s*{_REF}\s+(.+)", text, re.I | re.S):
        return Decision(commands=[AddNote(actor=actor, ticket_id=int(m.group(1)), text=m.group(2))])
    m = re.fullmatch(r"(?:报修|/new)\s*(.*)", text, re.I | re.S)
    if m is None and is_staff:
        return Decision(replies=[texts.UNKNOWN_COMMAND])
    description = (m.group(1) if m else text).strip()
    if not description:
        return Decision(
            replies=[texts.NEED_FIELDS.format(fields="问题描述", example="A-1024 注塑机报警 E31")]
        )
    ticket_type = _guess_type(config, description)
    photos = [media.media_id for media in msg.media if media.kind == "image"]
    values = _fields_from_text(ticket_type, description, photos)
    missing = [f for f in ticket_type.fields if f.required and f.key not in values]
    if missing:
        names = "、".join(f.label for f in missing)
        return Decision(
            replies=[texts.NEED_FIELDS.format(fields=names, example="A-1024 " + description)]
        )
    return Decision(
        commands=[
            OpenTicket(
                actor=actor,
                requester_id=actor.person_id,
                title=description.splitlines()[0][:60],
                description=description,
                type=ticket_type.key,
                fields=values,
                reply_platform=msg.platform,
                reply_user_id=msg.user_id,
                reply_conversation_id=msg.conversation_id
                if msg.conversation_type == "group"
                else "",
            )
        ]
    )
