"""One grammar for both platforms: a ChatMessage or CardAction becomes core commands.

``decide`` is a pure function of the inbound item, the actor, the config and the person's
dialog state; it never changes anything itself. The inbox worker runs the commands through the
bus, answers the queries, saves the new dialog state and sends the replies.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from bot import dialogs, grammar, kb_intake, texts
from bot.clicks import card_action
from bot.decision import KEEP, STAFF_ROLES, Decision, OpenFact, Query, Situation, with_expiry
from bot.grammar import Parsed
from bot.inbound import CardAction, ChatMessage, MessageKind
from bot.intake import continue_intake, finish_or_ask, start_intake
from core.messages import Actor, Command
from core.parts.commands import DecidePartsRequest, RequestParts
from core.settings import DeskConfig
from core.tickets.commands import (
    AcceptTicket,
    AddCustomerMessage,
    AddNote,
    ArriveOnSite,
    CompleteTicket,
    ConfirmResolution,
    DeclineTicket,
    RateTicket,
    ReopenTicket,
    ReplyToCustomer,
    TransferTicket,
)

log = logging.getLogger(__name__)
__all__ = ["KEEP", "Decision", "OpenFact", "Query", "Situation", "decide", "help_text"]


def help_text(actor: Actor) -> str:
    lines = list(texts.HELP_LINES["anyone"])
    if actor.has(*STAFF_ROLES):
        lines += texts.HELP_LINES["staff"]
    for role in ("engineer", "agent", "manager", "stock_keeper"):
        if role in actor.roles or ("admin" in actor.roles and role == "manager"):
            lines += [line for line in texts.HELP_LINES[role] if line not in lines]
    return "\n".join([texts.HELP_HEAD, *(f"· {line}" for line in lines), texts.HELP_TAIL])


# --- text commands ---------------------------------------------------------------------------


def _command(p: Parsed, msg: ChatMessage, actor: Actor, situation: Situation) -> Decision:
    t = p.ticket_id or 0
    held = (
        list((situation.dialog or {}).get("photos", []))
        if (situation.dialog or {}).get("kind") == "photos"
        else []
    )
    match p.name:
        case "my":
            return Decision(queries=[Query("my_tickets")])
        case "show":
            return Decision(queries=[Query("show", t)])
        case "accept":
            return Decision(commands=[AcceptTicket(actor=actor, ticket_id=t)])
        case "decline":
            if not p.text:
                state = with_expiry({"kind": "decline_reason", "ticket_id": t}, situation.now)
                return Decision(
                    replies=[texts.ASK_DECLINE_REASON.format(id=t)],
                    dialog=state,
                    precheck=DeclineTicket(actor=actor, ticket_id=t, reason=""),
                )
            return Decision(commands=[DeclineTicket(actor=actor, ticket_id=t, reason=p.text)])
        case "transfer":
            return Decision(commands=[TransferTicket(actor=actor, ticket_id=t, to=p.text)])
        case "note":
            return Decision(commands=[AddNote(actor=actor, ticket_id=t, text=p.text)])
        case "reply":
            return Decision(commands=[ReplyToCustomer(actor=actor, ticket_id=t, text=p.text)])
        case "parts":
            if p.errors or not p.lines:
                bad = "、".join(p.errors) or "空"
                return Decision(replies=[texts.PARTS_USAGE.format(id=t, bad=bad)])
            return Decision(commands=[RequestParts(actor=actor, ticket_id=t, lines=p.lines)])
        case "done":
            command = CompleteTicket(actor=actor, ticket_id=t, summary=p.text, photos=tuple(held))
            return Decision(commands=[command], dialog=None if held else KEEP)
        case "confirm":
            return Decision(commands=[ConfirmResolution(actor=actor, ticket_id=t)])
        case "reopen":
            if not p.text:
                state = with_expiry({"kind": "reopen_reason", "ticket_id": t}, situation.now)
                return Decision(replies=[texts.ASK_REOPEN_REASON.format(id=t)], dialog=state)
            return Decision(commands=[ReopenTicket(actor=actor, ticket_id=t, reason=p.text)])
        case "rate":
            if p.score is None:
                return Decision(replies=[texts.RATE_USAGE.format(id=t)])
            return Decision(
                commands=[RateTicket(actor=actor, ticket_id=t, score=p.score, comment=p.text)]
            )
        case "arrive":
            return Decision(commands=[ArriveOnSite(actor=actor, ticket_id=t)])
        case "summary":
            if p.errors:
                return Decision(replies=[texts.SUMMARY_USAGE])
            if not actor.has("manager"):
                return Decision(replies=[texts.SUMMARY_MANAGERS_ONLY])
            return Decision(queries=[Query("summary", period=p.period)])
        case "asset":
            if not p.text:
                return Decision(replies=[texts.ASSET_USAGE])
            return Decision(queries=[Query("asset", text=p.text[:64])])
        case "kb":
            if not p.text:
                return Decision(replies=[texts.KB_USAGE])
            return Decision(queries=[Query("kb", text=p.text)])
        case "usage":
            return Decision(replies=[texts.USAGE.format(verb=p.text)])
    return Decision(replies=[texts.UNKNOWN_COMMAND])


def _conversation(situation: Situation) -> int | None:
    """The ticket a customer is talking about: staff replied to it within the dialog window."""
    recent = [
        t
        for t in situation.open_tickets
        if t.staff_replied_at and situation.now - t.staff_replied_at <= dialogs.DIALOG_TTL
    ]
    if not recent:
        return None
    return max(recent, key=lambda t: t.staff_replied_at or situation.now).id


def _reason_dialog(state: dict[str, Any], actor: Actor, text: str) -> Command:
    t = int(state["ticket_id"])
    if state["kind"] == "decline_reason":
        return DeclineTicket(actor=actor, ticket_id=t, reason=text)
    if state["kind"] == "reject_reason":
        return DecidePartsRequest(
            actor=actor, request_id=int(state["request_id"]), approve=False, reason=text
        )
    return ReopenTicket(actor=actor, ticket_id=t, reason=text)


def decide(
    msg: ChatMessage | CardAction,
    *,
    actor: Actor,
    config: DeskConfig,
    secret: bytes = b"",
    situation: Situation | None = None,
) -> Decision:
    """Turn one inbound item from ``actor`` into a Decision."""
    situation = situation or Situation(now=datetime.now().astimezone())
    if isinstance(msg, CardAction):
        return card_action(msg, actor, secret, situation.now, config=config, situation=situation)
    if msg.kind in (MessageKind.EVENT, MessageKind.UNKNOWN, MessageKind.EMPTY):
        if msg.kind is MessageKind.EVENT and msg.event in ("enter_agent", "subscribe"):
            return Decision(replies=[help_text(actor)])
        return Decision()
    if msg.kind is MessageKind.LOCATION and msg.location and actor.has("engineer"):
        loc = msg.location  # an engineer sharing where they are: 到场 for their job in progress
        arrive = ArriveOnSite(
            actor=actor, latitude=loc.latitude, longitude=loc.longitude, label=loc.label
        )
        return Decision(commands=[arrive], dialog=KEEP)
    state = situation.dialog or {}
    kind = state.get("kind", "")
    photos = [m.media_id for m in msg.media if m.kind == "image"]
    text = msg.text.strip()
    if not text and not photos:
        return Decision(replies=[texts.UNSUPPORTED_MESSAGE])
    parsed = grammar.parse(text) if text else None

    if parsed is not None and parsed.name == "cancel":
        return Decision(
            replies=[texts.INTAKE_CANCELLED if kind else texts.NOTHING_PENDING], dialog=None
        )
    if parsed is not None and parsed.name == "help":
        return Decision(replies=[help_text(actor)])
    if kind in ("decline_reason", "reject_reason", "reopen_reason") and parsed is None and text:
        return Decision(commands=[_reason_dialog(state, actor, text)], dialog=None)
    if kind == "same_problem" and parsed is not None and parsed.name in ("yes", "no"):
        draft = state["draft"]
        if parsed.name == "yes":
            command = AddCustomerMessage(
                actor=actor,
                ticket_id=int(state["ticket_id"]),
                text=draft.get("description", ""),
                photos=tuple(draft.get("photos", [])),
            )
            return Decision(
                commands=[command],
                replies=[texts.ADDED_TO_TICKET.format(ref=f"#{state['ticket_id']}")],
                dialog=None,
            )
        return finish_or_ask(msg, actor, config, draft, situation.now)
    if kind == "kb_suggest" and (parsed is None or parsed.name == "new"):
        said = parsed.text if parsed is not None else text
        return kb_intake.typed(msg, actor, config, situation, said)
    if kind == "intake" and (parsed is None or parsed.name in ("yes", "no")):
        return continue_intake(msg, actor, config, state, text, photos, situation.now)
    if not kind and parsed is None and not actor.has(*STAFF_ROLES):
        talking = _conversation(situation)
        if talking is not None:
            command = AddCustomerMessage(
                actor=actor, ticket_id=talking, text=text, photos=tuple(photos)
            )
            return Decision(commands=[command])

    if parsed is None:
        if photos and not text and actor.has("engineer"):
            held = [*state.get("photos", []), *photos] if kind == "photos" else photos
            return Decision(
                replies=[texts.PHOTO_HELD],
                dialog=with_expiry({"kind": "photos", "photos": held}, situation.now),
            )
        if actor.has(*STAFF_ROLES) and text:
            return Decision(replies=[texts.UNKNOWN_COMMAND])
        return start_intake(msg, actor, config, situation, text, photos)
    if parsed.name == "new":
        return start_intake(msg, actor, config, situation, parsed.text, photos)
    if parsed.name in ("yes", "no"):
        return Decision(replies=[texts.NOTHING_PENDING])
    decision = _command(parsed, msg, actor, situation)
    if decision.dialog is KEEP and kind and kind != "photos":
        decision.dialog = None  # another command ends a pending question
    return decision
