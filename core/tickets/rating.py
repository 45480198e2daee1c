"""评价: one score (1–5) per closed ticket, by its requester; 2 or less tells the managers.

A ticket is rated only once it is closed (confirmed by the customer or closed automatically):
a resolved ticket must be confirmed first, so a rating always refers to a finished job.
"""

from __future__ import annotations

from core import notify
from core.bus import Context
from core.errors import Conflict, FieldError, Forbidden, InvalidTransition, ValidationFailed
from core.tickets import completion_texts as T
from core.tickets.commands import RateTicket
from core.tickets.events import TicketRated
from core.tickets.handlers import load
from core.tickets.model import Ticket
from core.tickets.workflow import STATUS_ZH, Status

LOW_SCORE = 2


def rate_key(ticket_id: int) -> str:
    return f"t{ticket_id}_rate"


async def _args(ticket: Ticket, ctx: Context) -> dict[str, object]:
    engineer = await ctx.uow.people.get(ticket.assignee_id) if ticket.assignee_id else None
    return {
        "id": ticket.id,
        "title": ticket.title,
        "engineer": engineer.name if engineer else "",
    }


def _satisfaction_card_sent(ticket: Ticket) -> bool:
    """Only a ticket the customer confirmed got the satisfaction card (not an auto-closed one)."""
    return any(
        e.action == "status_changed" and e.data.get("to") == "closed" and e.data.get("confirmed")
        for e in ticket.history
    )


async def send_satisfaction_card(ticket: Ticket, ctx: Context) -> None:
    await notify.card(
        ctx,
        ticket.requester_id,
        builder="satisfaction",
        args=await _args(ticket, ctx),
        card_key=rate_key(ticket.id),
        ticket_id=ticket.id,
        prefer=ticket.channel,
    )


async def rate_ticket(cmd: RateTicket, ctx: Context) -> Ticket:
    ticket = await load(ctx, cmd.ticket_id)
    if cmd.actor.person_id != ticket.requester_id:
        raise Forbidden(T.REQUESTER_ONLY.format(verb="评价", ref=ticket.ref))
    if ticket.rating is not None:
        raise Conflict(T.ALREADY_RATED.format(ref=ticket.ref, score=ticket.rating))
    if ticket.status is not Status.CLOSED:
        raise InvalidTransition(
            T.NOT_CLOSED.format(ref=ticket.ref, status=STATUS_ZH[ticket.status]), field="status"
        )
    if not 1 <= cmd.score <= 5:
        raise ValidationFailed([FieldError("score", T.BAD_SCORE.format(ref=ticket.ref))])
    comment = cmd.comment.strip()[:1000]
    ticket.rating = cmd.score
    ticket.rating_comment = comment
    ticket.record(cmd.actor, ctx.clock.now(), "rated", score=cmd.score, comment=comment)
    await ctx.uow.tickets.save(ticket)
    ticket.events.append(TicketRated(ticket_id=ticket.id, score=cmd.score, comment=comment))
    return ticket


async def on_rated(event: TicketRated, ctx: Context) -> None:
    ticket = await load(ctx, event.ticket_id)
    key = rate_key(ticket.id)
    if _satisfaction_card_sent(ticket):
        await notify.card(
            ctx,
            ticket.requester_id,
            builder="satisfaction",
            args=await _args(ticket, ctx),
            card_key=key,
            status=T.RATED.format(score=event.score),
            update=True,
            ticket_id=ticket.id,
            prefer=ticket.channel,
        )
    await notify.tell(
        ctx,
        ticket.requester_id,
        T.THANKS.format(ref=ticket.ref, score=event.score),
        key=f"{key}:thanks",
        ticket_id=ticket.id,
        prefer=ticket.channel,
    )
    if event.score > LOW_SCORE:
        return
    requester = await ctx.uow.people.get(ticket.requester_id)
    engineer = await ctx.uow.people.get(ticket.assignee_id) if ticket.assignee_id else None
    text = T.LOW_RATING.format(
        ref=ticket.ref,
        score=event.score,
        comment=event.comment or T.NO_COMMENT,
        requester=requester.name if requester else ticket.requester_id,
        engineer=engineer.name if engineer else "—",
    )
    managers = await notify.people_with_role(ctx, "manager")
    await notify.tell_many(ctx, managers, text, key=f"{key}:low", ticket_id=ticket.id)


COMMAND_HANDLERS = {RateTicket: rate_ticket}
EVENT_HANDLERS = {TicketRated: [on_rated]}
