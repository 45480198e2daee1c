"""到场 / a shared location: the assigned engineer checks in on site.

The first check-in sets ``arrived_at`` (the SLA arrival target and the labour time start from
it); later check-ins are recorded as further visits and change nothing else. A location shared
by the engineer without a ticket number counts for their one ticket in progress.
"""

from __future__ import annotations

from typing import Any

from core import notify
from core.bus import CommandHandler, Context, EventHandler
from core.errors import FieldError, Forbidden, InvalidTransition, NotFound, ValidationFailed
from core.tickets import texts as tx
from core.tickets.commands import ArriveOnSite
from core.tickets.events import EngineerArrived
from core.tickets.handlers import load
from core.tickets.model import Ticket
from core.tickets.repository import TicketFilter
from core.tickets.texts import when
from core.tickets.workflow import STATUS_ZH, Status

ON_SITE = (Status.ACCEPTED, Status.WAITING_PARTS, Status.WAITING_CUSTOMER)


async def _the_visit(ctx: Context, engineer_id: str) -> Ticket:
    """The engineer's one ticket in progress (preferring one not checked in yet)."""
    flt = TicketFilter(status=[s.value for s in ON_SITE], assignee_id=engineer_id, limit=50)
    mine, _ = await ctx.uow.tickets.list(flt)
    waiting = [t for t in mine if t.arrived_at is None]
    choice = waiting if waiting else mine
    if not choice:
        raise NotFound(tx.ARRIVE_NONE)
    if len(choice) > 1:
        refs = "、".join(t.ref for t in sorted(choice, key=lambda t: t.id))
        error = ValidationFailed([FieldError("ticket_id", tx.ARRIVE_WHICH.format(refs=refs))])
        error.message = tx.ARRIVE_WHICH.format(refs=refs)
        raise error
    return await load(ctx, choice[0].id)  # through the unit of work, with its history


def _location(cmd: ArriveOnSite) -> dict[str, Any]:
    if cmd.latitude is None or cmd.longitude is None:
        return {}
    place: dict[str, Any] = {"latitude": cmd.latitude, "longitude": cmd.longitude}
    if cmd.label.strip():
        place["label"] = cmd.label.strip()[:200]
    return place


async def arrive_on_site(cmd: ArriveOnSite, ctx: Context) -> Ticket:
    me = cmd.actor.person_id
    if cmd.ticket_id is None:
        if not cmd.actor.has("engineer"):
            raise Forbidden(tx.ARRIVE_NONE)
        ticket = await _the_visit(ctx, me)
    else:
        ticket = await load(ctx, cmd.ticket_id)
    if not cmd.actor.has("engineer"):
        raise Forbidden(tx.ARRIVE_ENGINEERS_ONLY.format(ref=ticket.ref))
    if ticket.assignee_id != me:
        raise Forbidden(tx.ARRIVE_NOT_YOURS.format(ref=ticket.ref))
    if ticket.status is Status.ASSIGNED:
        raise InvalidTransition(tx.ARRIVE_ACCEPT_FIRST.format(ref=ticket.ref), field="status")
    if ticket.status not in ON_SITE:
        raise InvalidTransition(
            tx.ARRIVE_CANNOT.format(ref=ticket.ref, status=STATUS_ZH[ticket.status]),
            field="status",
        )
    now = ctx.clock.now()
    first_at = ticket.arrived_at
    place = _location(cmd)
    n = len(ticket.history)
    ticket.record(cmd.actor, now, "arrived", first=first_at is None, **place)
    ticket.mark_arrived(now)
    await ctx.uow.tickets.save(ticket)
    tz = ctx.config.timezone
    where = tx.ARRIVED_PLACE.format(label=place["label"]) if place.get("label") else ""
    if first_at is None:
        said = tx.ARRIVED_OK.format(ref=ticket.ref, at=when(now, tz), place=where)
    else:
        said = tx.ARRIVED_AGAIN.format(
            ref=ticket.ref, at=when(now, tz), place=where, first=when(first_at, tz)
        )
    await notify.tell(
        ctx,
        me,
        said,
        key=f"t{ticket.id}:arrived:{n}",
        ticket_id=ticket.id,
        prefer=cmd.actor.channel,
    )
    ticket.events.append(
        EngineerArrived(ticket_id=ticket.id, engineer_id=me, first=first_at is None)
    )
    return ticket


async def tell_customer_arrived(event: EngineerArrived, ctx: Context) -> None:
    if not event.first:
        return
    ticket = await load(ctx, event.ticket_id)
    engineer = await ctx.uow.people.get(event.engineer_id)
    name = engineer.name if engineer else event.engineer_id
    await notify.tell(
        ctx,
        ticket.requester_id,
        tx.CUSTOMER_ARRIVED.format(name=name, ref=ticket.ref),
        key=f"t{ticket.id}:arrived:customer",
        ticket_id=ticket.id,
        prefer=ticket.channel,
    )


COMMAND_HANDLERS: dict[type, CommandHandler] = {ArriveOnSite: arrive_on_site}
EVENT_HANDLERS: dict[type, list[EventHandler]] = {EngineerArrived: [tell_customer_arrived]}
