"""Card clicks: a signed ActionRef becomes a command, or a question for a reason first."""

from __future__ import annotations

import logging
from datetime import datetime

from bot import kb_intake, texts
from bot.decision import Decision, Situation, with_expiry
from bot.inbound import CardAction
from cards.actions import ActionKind, ActionRef, BadAction, recipient
from core.kb.commands import DraftArticleFromTicket
from core.messages import Actor
from core.parts.commands import DecidePartsRequest
from core.settings import DeskConfig
from core.sla.commands import AcknowledgeSla
from core.sla.scan import decode_items
from core.tickets.commands import (
    AcceptTicket,
    ConfirmResolution,
    DeclineTicket,
    RateTicket,
    ReopenTicket,
)

log = logging.getLogger(__name__)


def card_action(
    msg: CardAction,
    actor: Actor,
    secret: bytes,
    now: datetime,
    *,
    config: DeskConfig | None = None,
    situation: Situation | None = None,
) -> Decision:
    try:
        ref = ActionRef.decode(
            msg.action, secret, recipient=recipient(msg.platform, msg.user_id), now=now.timestamp()
        )
    except BadAction as exc:
        log.warning("refused a %s card click: %s", msg.platform, exc)
        return Decision(replies=[texts.CARD_NO_LONGER_VALID])
    if ref.card_key != msg.card_key:
        log.warning("refused a %s card click whose action belongs to another card", msg.platform)
        return Decision(replies=[texts.CARD_NO_LONGER_VALID])
    t = ref.ticket_id
    match ref.kind:
        case ActionKind.ACCEPT:
            return Decision(commands=[AcceptTicket(actor=actor, ticket_id=t)])
        case ActionKind.DECLINE:
            return Decision(
                replies=[texts.ASK_DECLINE_REASON.format(id=t)],
                dialog=with_expiry({"kind": "decline_reason", "ticket_id": t}, now),
                precheck=DeclineTicket(actor=actor, ticket_id=t, reason=""),
            )
        case ActionKind.APPROVE:
            return Decision(
                commands=[
                    DecidePartsRequest(actor=actor, request_id=int(ref.arg or 0), approve=True)
                ]
            )
        case ActionKind.REJECT:
            request_id = int(ref.arg or 0)
            state = {"kind": "reject_reason", "ticket_id": t, "request_id": request_id}
            return Decision(
                replies=[texts.ASK_REJECT_REASON.format(id=t)],
                dialog=with_expiry(state, now),
                precheck=DecidePartsRequest(
                    actor=actor, request_id=request_id, approve=False, reason=""
                ),
            )
        case ActionKind.CONFIRM:
            return Decision(commands=[ConfirmResolution(actor=actor, ticket_id=t)])
        case ActionKind.REOPEN:
            return Decision(
                replies=[texts.ASK_REOPEN_REASON.format(id=t)],
                dialog=with_expiry({"kind": "reopen_reason", "ticket_id": t}, now),
                precheck=ReopenTicket(actor=actor, ticket_id=t, reason=""),
            )
        case ActionKind.ACK:
            try:
                kind, items = decode_items(ref.arg)
            except (KeyError, ValueError):
                return Decision(replies=[texts.CARD_NO_LONGER_VALID])
            command = AcknowledgeSla(actor=actor, card_key=ref.card_key, kind=kind, items=items)
            return Decision(commands=[command])
        case ActionKind.KB_DRAFT:
            return Decision(commands=[DraftArticleFromTicket(actor=actor, ticket_id=t)])
        case ActionKind.KB_SOLVED | ActionKind.KB_MORE:
            return kb_intake.clicked(
                ref, msg, actor, config or DeskConfig(), situation or Situation(now=now)
            )
        case ActionKind.RATE:
            return Decision(
                commands=[RateTicket(actor=actor, ticket_id=t, score=int(ref.arg or 0))]
            )
    return Decision()
