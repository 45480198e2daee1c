"""签字确认: the customer signs on the signing page; that confirms the job like 确认完成.

The history's close entry says how it was confirmed: ``via: "signature"`` with the signer and
the stored image, or (chat) ``confirmed: true`` without it.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.bus import Context
from core.errors import Conflict, FieldError, InvalidTransition, NotFound, ValidationFailed
from core.messages import Actor, Command
from core.tickets.completion import resolve_round
from core.tickets.events import ResolutionConfirmed
from core.tickets.handlers import load
from core.tickets.model import Ticket
from core.tickets.workflow import STATUS_ZH, Status

SIGNER_MAX = 50


@dataclass(frozen=True, kw_only=True)
class SignCompletion(Command):
    """The customer's signature on the signing page (the token names ticket and completion)."""

    token: str
    signer: str
    image_sha256: str  # the PNG, stored by content hash by the web layer


async def sign_completion(cmd: SignCompletion, ctx: Context) -> Ticket:
    signoff = await ctx.uow.signoffs.get(cmd.token)
    if signoff is None:
        raise NotFound("签字链接无效或已过期。")
    ticket = await load(ctx, signoff.ticket_id)
    if signoff.signed_at is not None:
        raise Conflict(f"工单 {ticket.ref} 已于此前签字确认，无需重复签字。")
    if ticket.status is not Status.RESOLVED or signoff.round != resolve_round(ticket):
        raise InvalidTransition(
            f"工单 {ticket.ref} 当前状态为“{STATUS_ZH[ticket.status]}”，这个签字链接已失效。",
            field="status",
        )
    signer = " ".join(cmd.signer.split())[:SIGNER_MAX]
    if not signer:
        raise ValidationFailed([FieldError("signer", "请填写签字人姓名")])
    now = ctx.clock.now()
    if not await ctx.uow.signoffs.sign(
        cmd.token, signer=signer, image_sha256=cmd.image_sha256, at=now
    ):
        raise Conflict(f"工单 {ticket.ref} 已签字确认，无需重复签字。")
    actor = Actor(person_id=ticket.requester_id, name=signer, channel=cmd.actor.channel)
    ticket.record(actor, now, "signed", signer=signer, image=cmd.image_sha256)
    ticket.move_to(
        Status.CLOSED, actor=actor, at=now, confirmed=True, via="signature", signer=signer
    )
    await ctx.uow.tickets.save(ticket)
    ticket.events.append(ResolutionConfirmed(ticket_id=ticket.id, round=resolve_round(ticket)))
    return ticket


COMMAND_HANDLERS = {SignCompletion: sign_completion}
EVENT_HANDLERS: dict[type, list[object]] = {}
