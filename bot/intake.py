"""Intake: turn a report into OpenTicket, asking for what is missing one question at a time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot import dialogs, kb_intake, texts
from bot.decision import Decision, Situation, with_expiry
from bot.inbound import ChatMessage
from core.messages import Actor
from core.settings import DeskConfig
from core.tickets.commands import OpenTicket


def finish_or_ask(
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
            dialog=with_expiry({**state, "asking": "__description"}, now),
        )
    left = dialogs.missing(ticket_type, values)
    if left:
        spec = left[0]
        return Decision(
            replies=[dialogs.question(spec)],
            dialog=with_expiry({**state, "asking": spec.key}, now),
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
        ],
        dialog=None,
    )


def start_intake(
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
        return Decision(replies=[reply], dialog=with_expiry(state, situation.now))
    if situation.suggestions and description:
        return kb_intake.suggest(msg, actor, situation, description, photos)
    return finish_or_ask(msg, actor, config, state, situation.now)


def continue_intake(
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
                    dialog=with_expiry(state, now),
                )
            state = {**state, "values": {**state.get("values", {}), spec.key: value}}
    decision = finish_or_ask(msg, actor, config, state, now)
    if photos and not text and decision.commands == []:
        decision.replies.insert(0, texts.PHOTO_SAVED)
    return decision
