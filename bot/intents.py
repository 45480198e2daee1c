"""One grammar for both platforms: a ChatMessage or CardAction becomes core commands.

``decide`` is a pure function of the inbound item, the actor, the config and the person's
dialog state; it never changes anything itself. The inbox worker runs the commands through the
bus, answers the queries, saves the new dialog state and sends the replies.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot import dialogs, grammar, texts
from bot.grammar import Parsed
from bot.inbound import CardAction, ChatMessage, MessageKind
from cards.actions import ActionKind, ActionRef, BadAction
from core.messages import Actor, Command
from core.parts.commands import DecidePartsRequest, RequestParts
from core.settings import DeskConfig
from core.tickets.commands import (
    AcceptTicket,
    AddCustomerMessage,
    AddNote,
    CompleteTicket,
    ConfirmResolution,
    DeclineTicket,
    OpenTicket,
    RateTicket,
    ReopenTicket,
    ReplyToCustomer,
    TransferTicket,
)

log = logging.getLogger(__name__)
STAFF_ROLES = ("agent", "engineer", "manager", "stock_keeper")


class _Keep:
    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()


@dataclass(frozen=True)
class Query:
    """A read-only request answered by the worker from the database."""

    name: str  # my_tickets | show | summary
    ticket_id: int | None = None
    period: str = ""


@dataclass(frozen=True)
class OpenFact:
    """One of the sender's own open tickets, for the same-device question."""

    id: int
    device: str
    staff_replied_at: datetime | None = None  # the last 回复 to the customer


@dataclass(frozen=True)
class Situation:
    now: datetime
    dialog: dict[str, Any] | None = None
    open_tickets: tuple[OpenFact, ...] = ()


@dataclass
class Decision:
    commands: list[Command] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    queries: list[Query] = field(default_factory=list)
    dialog: Any = KEEP  # KEEP, None (clear) or the new state


def _with_expiry(state: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {**state, "expires_at": (now + dialogs.DIALOG_TTL).isoformat()}


def help_text(actor: Actor) -> str:
    lines = list(texts.HELP_LINES["anyone"])
    if actor.has(*STAFF_ROLES):
        lines += texts.HELP_LINES["staff"]
    for role in ("engineer", "agent", "manager", "stock_keeper"):
        if role in actor.roles or ("admin" in actor.roles and role == "manager"):
            lines += [line for line in texts.HELP_LINES[role] if line not in lines]
    return "\n".join([texts.HELP_HEAD, *(f"· {line}" for line in lines), texts.HELP_TAIL])


# --- card clicks ---------------------------------------------------------------------------


def _card_action(msg: CardAction, actor: Actor, secret: bytes, now: datetime) -> Decision:
    try:
        ref = ActionRef.decode(msg.action, secret)
    except BadAction:
        log.warning("refused a %s card click with a forged or unknown action", msg.platform)
        return Decision()
    if ref.card_key != msg.card_key:
        log.warning("refused a %s card click whose action belongs to another card", msg.platform)
        return Decision()
    t = ref.ticket_id
    match ref.kind:
        case ActionKind.ACCEPT:
            return Decision(commands=[AcceptTicket(actor=actor, ticket_id=t)])
        case ActionKind.DECLINE:
            return Decision(
                replies=[texts.ASK_DECLINE_REASON.format(id=t)],
                dialog=_with_expiry({"kind": "decline_reason", "ticket_id": t}, now),
            )
        case ActionKind.APPROVE:
            return Decision(
                commands=[
                    DecidePartsRequest(actor=actor, request_id=int(ref.arg or 0), approve=True)
                ]
            )
        case ActionKind.REJECT:
            state = {"kind": "reject_reason", "ticket_id": t, "request_id": int(ref.arg or 0)}
            return Decision(
                replies=[texts.ASK_REJECT_REASON.format(id=t)], dialog=_with_expiry(state, now)
            )
        case ActionKind.CONFIRM:
            return Decision(commands=[ConfirmResolution(actor=actor, ticket_id=t)])
        case ActionKind.REOPEN:
            return Decision(
                replies=[texts.ASK_REOPEN_REASON.format(id=t)],
                dialog=_with_expiry({"kind": "reopen_reason", "ticket_id": t}, now),
            )
        case ActionKind.RATE:
            return Decision(
                commands=[RateTicket(actor=actor, ticket_id=t, score=int(ref.arg or 0))]
            )
    return Decision()


# --- intake ----------------------------------------------------------------------------------


def _finish_or_ask(
    msg: ChatMessage, actor: Actor, config: DeskConfig, state: dict[str, Any], now: datetime
) -> Decision:
    ticket_type = config.ticket_type(state["type"]) or config.ticket_types[0]
    values: dict[str, Any] = dict(state.get("values", {}))
    photos = list(state.get("photos", []))
    images = dialogs.images_field(ticket_type)
    if images and photos:
        values[images.key] = photos[:9]
    description = state.get("description", "")
    if not description:
        return Decision(
            replies=[texts.ASK_DESCRIPTION],
            dialog=_with_expiry({**state, "asking": "__description"}, now),
        )
    left = dialogs.missing(ticket_type, values)
    if left:
        spec = left[0]
        return Decision(
            replies=[dialogs.question(spec)],
            dialog=_with_expiry({**state, "asking": spec.key}, now),
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
            )
        ],
        dialog=None,
    )


def _start_intake(
    msg: ChatMessage,
    actor: Actor,
    config: DeskConfig,
    situation: Situation,
    description: str,
    photos: list[str],
) -> Decision:
    ticket_type = dialogs.guess_type(config, description)
    values = dialogs.fields_from_text(config, ticket_type, description) if description else {}
    state: dict[str, Any] = {
        "kind": "intake",
        "type": ticket_type.key,
        "description": description,
        "values": values,
        "photos": photos,
    }
    device = values.get("device")
    same = next((t for t in situation.open_tickets if device and t.device == device), None)
    if same is not None:
        state = {"kind": "same_problem", "ticket_id": same.id, "draft": state}
        reply = texts.SAME_PROBLEM.format(ref=f"#{same.id}", device=device)
        return Decision(replies=[reply], dialog=_with_expiry(state, situation.now))
    return _finish_or_ask(msg, actor, config, state, situation.now)


def _continue_intake(
    msg: ChatMessage,
    actor: Actor,
    config: DeskConfig,
    state: dict[str, Any],
    text: str,
    photos: list[str],
    now: datetime,
) -> Decision:
    state = {**state, "photos": [*state.get("photos", []), *photos]}
    asking = state.get("asking", "")
    if text and asking == "__description":
        ticket_type = dialogs.guess_type(config, text)
        values = {**dialogs.fields_from_text(config, ticket_type, text), **state.get("values", {})}
        state = {**state, "description": text, "type": ticket_type.key, "values": values}
    elif text and asking:
        ticket_type = config.ticket_type(state["type"]) or config.ticket_types[0]
        spec = next((f for f in ticket_type.fields if f.key == asking), None)
        if spec is not None:
            value, error = dialogs.answer(config, ticket_type, spec, text)
            if error:
                return Decision(
                    replies=[texts.ANSWER_INVALID.format(error=error)],
                    dialog=_with_expiry(state, now),
                )
            state = {**state, "values": {**state.get("values", {}), spec.key: value}}
    decision = _finish_or_ask(msg, actor, config, state, now)
    if photos and not text and decision.commands == []:
        decision.replies.insert(0, texts.PHOTO_SAVED)
    return decision


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
                state = _with_expiry({"kind": "decline_reason", "ticket_id": t}, situation.now)
                return Decision(replies=[texts.ASK_DECLINE_REASON.format(id=t)], dialog=state)
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
                state = _with_expiry({"kind": "reopen_reason", "ticket_id": t}, situation.now)
                return Decision(replies=[texts.ASK_REOPEN_REASON.format(id=t)], dialog=state)
            return Decision(commands=[ReopenTicket(actor=actor, ticket_id=t, reason=p.text)])
        case "rate":
            if p.score is None:
                return Decision(replies=[texts.RATE_USAGE.format(id=t)])
            return Decision(
                commands=[RateTicket(actor=actor, ticket_id=t, score=p.score, comment=p.text)]
            )
        case "summary":
            if p.errors:
                return Decision(replies=[texts.SUMMARY_USAGE])
            if not actor.has("manager"):
                return Decision(replies=[texts.SUMMARY_MANAGERS_ONLY])
            return Decision(queries=[Query("summary", period=p.period)])
        case "kb":
            return Decision(replies=[texts.KB_SOON])
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
        return _card_action(msg, actor, secret, situation.now)
    if msg.kind in (MessageKind.EVENT, MessageKind.UNKNOWN, MessageKind.EMPTY):
        if msg.kind is MessageKind.EVENT and msg.event in ("enter_agent", "subscribe"):
            return Decision(replies=[help_text(actor)])
        return Decision()
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
        return _finish_or_ask(msg, actor, config, draft, situation.now)
    if kind == "intake" and (parsed is None or parsed.name in ("yes", "no")):
        return _continue_intake(msg, actor, config, state, text, photos, situation.now)
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
                dialog=_with_expiry({"kind": "photos", "photos": held}, situation.now),
            )
        if actor.has(*STAFF_ROLES) and text:
            return Decision(replies=[texts.UNKNOWN_COMMAND])
        return _start_intake(msg, actor, config, situation, text, photos)
    if parsed.name == "new":
        return _start_intake(msg, actor, config, situation, parsed.text, photos)
    if parsed.name in ("yes", "no"):
        return Decision(replies=[texts.NOTHING_PENDING])
    decision = _command(parsed, msg, actor, situation)
    if decision.dialog is KEEP and kind and kind != "photos":
        decision.dialog = None  # another command ends a pending question
    return decision
