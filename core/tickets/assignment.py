"""Assignment cards and the engineer's answer: 接单 / 拒单, for direct and pool (抢单) offers.

A direct offer: the ticket is ``assigned`` to one engineer, who holds the card
``t{id}_assign_{round}``. A pool offer: the ticket stays ``new`` (unassigned) and every
candidate holds a card ``t{id}_pool_{round}_{i}``; the first 接单 assigns and accepts it in one
step and the other cards say who took it. Which case applies is read from the offers table,
so a click on an old card is recognised and answered politely without changing anything.
"""

from __future__ import annotations

from typing import Any

from core import notify
from core.bus import CommandHandler, Context, EventHandler
from core.errors import (
    Conflict,
    DomainError,
    FieldError,
    Forbidden,
    InvalidTransition,
    ValidationFailed,
)
from core.tickets import dispatch_texts as tx
from core.tickets import texts
from core.tickets.commands import AcceptTicket, DeclineTicket
from core.tickets.events import TicketAccepted, TicketAssigned, TicketDeclined
from core.tickets.handlers import load
from core.tickets.model import PRIORITY_ZH, Ticket
from core.tickets.offers import Mode, Offer, OfferStatus
from core.tickets.workflow import STATUS_ZH, Status


def now_text(ctx: Context) -> str:
    return texts.when(ctx.clock.now(), ctx.config.timezone)


def next_round(offers: list[Offer]) -> int:
    return max((o.round for o in offers), default=0) + 1


async def name_of(ctx: Context, person_id: str | None) -> str:
    person = await ctx.uow.people.get(person_id) if person_id else None
    return person.name if person else (person_id or "")


def _due_text(ticket: Ticket, ctx: Context) -> str:
    """``06-10 12:00（剩余 1小时20分（工作时间））``: the response due time and what is left."""
    from core.sla.clocks import left_text, response_clock  # core.sla imports ticket modules

    due = texts.when(ticket.response_due_at, ctx.config.timezone)
    if ticket.first_response_at is not None or ticket.response_due_at is None:
        return due
    response, cal = response_clock(ticket, ctx.config)
    return f"{due}（{left_text(cal, response, ctx.clock.now())}）"


async def facts(ticket: Ticket, ctx: Context, *, pool: bool = False) -> dict[str, Any]:
    ticket_type = ctx.config.ticket_type(ticket.type)
    args: dict[str, Any] = {
        "id": ticket.id,
        "title": ticket.title,
        "type_name": ticket_type.name if ticket_type else ticket.type,
        "priority": PRIORITY_ZH[ticket.priority],
        "requester": await name_of(ctx, ticket.requester_id),
        "due": _due_text(ticket, ctx),
        "device": str(ticket.fields.get("device", "")),
        "address": str(ticket.fields.get("address", "")),
    }
    if pool:
        args["pool"] = True
    return args


async def send_offer(ctx: Context, ticket: Ticket, offer: Offer) -> None:
    await notify.card(
        ctx,
        offer.person_id,
        builder="assignment",
        args=await facts(ticket, ctx, pool=offer.mode is Mode.POOL),
        card_key=offer.card_key,
        ticket_id=ticket.id,
        prefer=ticket.channel,
    )


async def close_offer(
    ctx: Context, ticket: Ticket, offer: Offer, status: OfferStatus, line: str, reason: str = ""
) -> None:
    """End an offer and update its card in place to say why (who did what)."""
    offer.status = status
    offer.closed_at = ctx.clock.now()
    offer.reason = reason
    await ctx.uow.dispatch.save(offer)
    await notify.card(
        ctx,
        offer.person_id,
        builder="assignment",
        args=await facts(ticket, ctx, pool=offer.mode is Mode.POOL),
        card_key=offer.card_key,
        status=line,
        update=True,
        ticket_id=ticket.id,
        prefer=ticket.channel,
    )


async def send_assignment_card(event: TicketAssigned, ctx: Context) -> None:
    """A (re)assignment: withdraw every open offer, then a fresh card for the assignee."""
    ticket = await load(ctx, event.ticket_id)
    offers = await ctx.uow.dispatch.for_ticket(ticket.id)
    name = await name_of(ctx, event.assignee_id)
    for offer in offers:
        if offer.is_open:
            line = tx.WITHDRAWN_CARD.format(name=name, at=now_text(ctx))
            await close_offer(ctx, ticket, offer, OfferStatus.WITHDRAWN, line)
    n = next_round(offers)
    offer = Offer(
        ticket_id=ticket.id,
        round=n,
        person_id=event.assignee_id,
        card_key=f"t{ticket.id}_assign_{n}",
        mode=Mode.DIRECT,
        offered_at=ctx.clock.now(),
        assigned_at=ctx.clock.now(),
    )
    await ctx.uow.dispatch.add(offer)
    await send_offer(ctx, ticket, offer)


def invalid(field: str, message: str) -> ValidationFailed:
    error = ValidationFailed([FieldError(field, message)])
    error.message = message  # said to a person as it is, without the field name
    return error


async def refusal(
    ctx: Context, ticket: Ticket, me: str, offers: list[Offer], verb: str
) -> DomainError:
    """Why ``me`` cannot 接单/拒单 this ticket now, politely; nothing has changed."""
    ref = ticket.ref
    if ticket.assignee_id == me and ticket.status is not Status.ASSIGNED:
        if ticket.status is Status.ACCEPTED and verb == "接单":
            return Conflict(tx.ALREADY_ACCEPTED.format(ref=ref))
        return InvalidTransition(
            tx.CANNOT.format(ref=ref, status=STATUS_ZH[ticket.status], verb=verb), field="status"
        )
    mine = [o for o in offers if o.person_id == me]
    if mine and mine[-1].status is OfferStatus.TAKEN:
        winner = next(
            (o for o in offers if o.round == mine[-1].round and o.status is OfferStatus.ACCEPTED),
            None,
        )
        taker = await name_of(ctx, winner.person_id if winner else ticket.assignee_id)
        return Conflict(tx.TAKEN_BY.format(ref=ref, name=taker))
    if mine and mine[-1].status is OfferStatus.DECLINED:
        return Conflict(tx.ALREADY_DECLINED.format(ref=ref))
    if mine and ticket.assignee_id != me:
        return Conflict(tx.REASSIGNED.format(ref=ref))
    if ticket.status not in (Status.NEW, Status.ASSIGNED):
        return InvalidTransition(
            tx.CANNOT.format(ref=ref, status=STATUS_ZH[ticket.status], verb=verb), field="status"
        )
    return Forbidden(tx.NOT_YOURS.format(ref=ref, verb=verb))


async def _answerable(
    ctx: Context, cmd: AcceptTicket | DeclineTicket, verb: str
) -> tuple[Ticket, list[Offer], Mode]:
    ticket = await load(ctx, cmd.ticket_id)
    if not cmd.actor.has("engineer"):
        raise Forbidden(tx.ENGINEERS_ONLY.format(verb=verb, ref=ticket.ref))
    me = cmd.actor.person_id
    offers = await ctx.uow.dispatch.for_ticket(ticket.id)
    if ticket.status is Status.ASSIGNED and ticket.assignee_id == me:
        return ticket, offers, Mode.DIRECT
    pooled = any(o.person_id == me and o.is_open and o.mode is Mode.POOL for o in offers)
    if ticket.status is Status.NEW and pooled:
        return ticket, offers, Mode.POOL
    raise await refusal(ctx, ticket, me, offers, verb)


async def accept_ticket(cmd: AcceptTicket, ctx: Context) -> Ticket:
    ticket, offers, mode = await _answerable(ctx, cmd, "接单")
    me, now = cmd.actor.person_id, ctx.clock.now()
    if mode is Mode.POOL:
        ticket.assignee_id = me
        ticket.move_to(Status.ASSIGNED, actor=cmd.actor, at=now, assignee=me, mode="pool")
    ticket.move_to(Status.ACCEPTED, actor=cmd.actor, at=now)
    ticket.mark_first_response(now)
    await ctx.uow.tickets.save(ticket)
    line = tx.ACCEPTED_CARD.format(name=cmd.actor.name, at=now_text(ctx))
    taken = tx.TAKEN_CARD.format(name=cmd.actor.name, at=now_text(ctx))
    for offer in offers:
        if not offer.is_open:
            continue
        if offer.person_id == me:
            offer.assigned_at = offer.assigned_at or now
            await close_offer(ctx, ticket, offer, OfferStatus.ACCEPTED, line)
        else:
            await close_offer(ctx, ticket, offer, OfferStatus.TAKEN, taken)
    ticket.events.append(TicketAccepted(ticket_id=ticket.id, engineer_id=me))
    return ticket


async def decline_ticket(cmd: DeclineTicket, ctx: Context) -> Ticket:
    ticket, offers, mode = await _answerable(ctx, cmd, "拒单")
    reason = cmd.reason.strip()[:500]
    if not reason:
        raise invalid("reason", tx.DECLINE_REASON.format(ref=ticket.ref))
    me, now = cmd.actor.person_id, ctx.clock.now()
    ticket.decline_count += 1
    ticket.record(cmd.actor, now, "declined", reason=reason, mode=mode.value)
    if mode is Mode.DIRECT:
        ticket.move_to(Status.NEW, actor=cmd.actor, at=now, reason=reason)
        ticket.assignee_id = None
    await ctx.uow.tickets.save(ticket)
    line = tx.DECLINED_CARD.format(name=cmd.actor.name, reason=reason)
    for offer in offers:
        if offer.is_open and offer.person_id == me:
            await close_offer(ctx, ticket, offer, OfferStatus.DECLINED, line, reason)
    ticket.events.append(TicketDeclined(ticket_id=ticket.id, engineer_id=me, reason=reason))
    return ticket


async def on_accepted(event: TicketAccepted, ctx: Context) -> None:
    """The customer is told who is coming (and the engineer's phone when configured)."""
    ticket = await load(ctx, event.ticket_id)
    engineer = await ctx.uow.people.get(event.engineer_id)
    name = engineer.name if engineer else event.engineer_id
    phone = tx.PHONE.format(phone=engineer.phone) if engineer and engineer.phone else ""
    await notify.tell(
        ctx,
        ticket.requester_id,
        tx.CUSTOMER_ACCEPTED.format(ref=ticket.ref, name=name, phone=phone),
        key=f"t{ticket.id}:accepted:{len(ticket.history)}",
        ticket_id=ticket.id,
        prefer=ticket.channel,
    )


COMMAND_HANDLERS: dict[type, CommandHandler] = {
    AcceptTicket: accept_ticket,
    DeclineTicket: decline_ticket,
}
EVENT_HANDLERS: dict[type, list[EventHandler]] = {
    TicketAssigned: [send_assignment_card],
    TicketAccepted: [on_accepted],
}
