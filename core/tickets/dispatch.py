"""Dispatch: pick engineers by the rules (core/tickets/rules.py), offer the ticket, re-dispatch
after a decline or an accept timeout, 转派, and tell agents and managers when nobody fits.

Direct mode assigns the best candidate (TicketAssigned sends the card); pool mode keeps the
ticket ``new`` and sends a card to every candidate (core/tickets/assignment.py takes the first
接单). A decline or a lapse excludes that engineer from the ticket's later rounds.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from core import notify
from core.bus import CommandHandler, Context, EventHandler
from core.errors import Conflict, Forbidden, InvalidTransition, NotFound
from core.messages import Actor
from core.tickets import dispatch_texts as tx
from core.tickets import rules
from core.tickets.assignment import close_offer, invalid, next_round, now_text, send_offer
from core.tickets.commands import DispatchTicket, ScanAssignments, TransferTicket
from core.tickets.events import TicketAssigned, TicketDeclined, TicketOpened
from core.tickets.handlers import load
from core.tickets.model import Ticket
from core.tickets.offers import Mode, Offer, OfferStatus, Roster
from core.tickets.workflow import STATUS_ZH, Status

SYSTEM = Actor.system()
_SPENT = (OfferStatus.DECLINED, OfferStatus.EXPIRED)


async def escalate(ticket: Ticket, ctx: Context, actor: Actor, why: str) -> None:
    """Nobody can take the ticket: it stays ``new``; agents and managers are told."""
    n = len(ticket.history)
    ticket.record(actor, ctx.clock.now(), "escalated", reason=why)
    await ctx.uow.tickets.save(ticket)
    staff = await notify.people_with_role(ctx, "agent", "manager")
    text = tx.ESCALATE.format(ref=ticket.ref, title=ticket.title, why=why)
    await notify.tell_many(ctx, staff, text, key=f"t{ticket.id}:escalate:{n}", ticket_id=ticket.id)


async def dispatch(
    ticket: Ticket,
    ctx: Context,
    *,
    actor: Actor,
    why_nobody: str = tx.WHY_NOBODY,
    roster: Roster | None = None,
) -> bool:
    """Offer a ``new`` ticket by the rules; True when someone got a card. A scan dispatching
    several tickets passes one ``roster`` (read once, kept current as it assigns)."""
    cfg = ctx.config.assignment
    if ticket.decline_count >= cfg.max_declines:
        await escalate(ticket, ctx, actor, tx.WHY_DECLINES.format(n=ticket.decline_count))
        return False
    offers = await ctx.uow.dispatch.for_ticket(ticket.id)
    excluded = {o.person_id for o in offers if o.status in _SPENT or o.is_open}
    roster = roster or await ctx.uow.dispatch.roster()
    ticket_type = ctx.config.ticket_type(ticket.type)
    regions = (p.region for p in roster.staff if "engineer" in p.roles)  # read only if needed
    asset = await ctx.uow.assets.get(ticket.asset_id) if ticket.asset_id else None
    chosen = roster.ranking().candidates(  # rules.candidates, kept sorted through the scan
        skills=ticket_type.skills if ticket_type else (),
        region=(asset.region if asset else "") or rules.ticket_region(ticket, ctx.config, regions),
        excluded=excluded,
        first=cfg.mode != "pool",  # a direct assignment takes the best one
    )
    if not chosen:
        await escalate(ticket, ctx, actor, why_nobody)
        return False
    now = ctx.clock.now()
    if cfg.mode == "pool":
        n = next_round(offers)
        ticket.record(actor, now, "offered", mode="pool", engineers=[p.id for p in chosen])
        await ctx.uow.tickets.save(ticket)
        for i, person in enumerate(chosen, 1):
            offer = Offer(
                ticket_id=ticket.id,
                round=n,
                person_id=person.id,
                card_key=f"t{ticket.id}_pool_{n}_{i}",
                mode=Mode.POOL,
                offered_at=now,
            )
            await ctx.uow.dispatch.add(offer)
            await send_offer(ctx, ticket, offer)
        return True
    person = chosen[0]
    ticket.assignee_id = person.id
    ticket.move_to(Status.ASSIGNED, actor=actor, at=now, assignee=person.id, rule="auto")
    await ctx.uow.tickets.save(ticket)
    roster.assigned(person.id, now)
    ticket.events.append(
        TicketAssigned(ticket_id=ticket.id, assignee_id=person.id, previous_assignee_id=None)
    )
    return True


async def on_opened(event: TicketOpened, ctx: Context) -> None:
    if not ctx.config.assignment.auto_dispatch:
        return
    ticket = await load(ctx, event.ticket_id)
    if ticket.status is Status.NEW and ticket.assignee_id is None:
        await dispatch(ticket, ctx, actor=SYSTEM)


async def after_declined(event: TicketDeclined, ctx: Context) -> None:
    """The next candidate gets the ticket; in pool mode only once every card was answered."""
    ticket = await load(ctx, event.ticket_id)
    if ticket.status is not Status.NEW or ticket.assignee_id is not None:
        return
    still_open = any(o.is_open for o in await ctx.uow.dispatch.for_ticket(ticket.id))
    if still_open and ticket.decline_count < ctx.config.assignment.max_declines:
        return
    await dispatch(ticket, ctx, actor=SYSTEM)


async def dispatch_ticket(cmd: DispatchTicket, ctx: Context) -> Ticket:
    ticket = await load(ctx, cmd.ticket_id)
    if not cmd.actor.has("agent", "manager"):
        raise Forbidden(tx.DISPATCH_STAFF_ONLY.format(ref=ticket.ref))
    if ticket.status is not Status.NEW:
        status = STATUS_ZH[ticket.status]
        raise InvalidTransition(tx.ALREADY_DISPATCHED.format(ref=ticket.ref, status=status))
    await dispatch(ticket, ctx, actor=cmd.actor)
    return ticket


async def scan_assignments(cmd: ScanAssignments, ctx: Context) -> int:
    """Offers not accepted within the timeout lapse; their tickets are dispatched again (first
    every lapse is recorded, then one roster serves every re-dispatch, kept current as the
    scan takes tickets back and assigns them).

    However many lapsed, the scan reads each table once and writes each one in a grouped
    statement or two: the tickets, their offers, clocks and people and the roster are read
    first, and the unit of work defers its writes (core/deferred.py) to the commit."""
    minutes = ctx.config.assignment.accept_timeout_minutes
    now = ctx.clock.now()
    lapsed: dict[int, list[Offer]] = defaultdict(list)
    for offer in await ctx.uow.dispatch.due(now - timedelta(minutes=minutes)):
        lapsed[offer.ticket_id].append(offer)
    if not lapsed:
        return 0
    ctx.uow.defer_writes()
    engineers = [o.person_id for offers in lapsed.values() for o in offers]
    roster = await _read_ahead(ctx, list(lapsed), engineers)
    again: list[Ticket] = []
    for ticket_id, offers in lapsed.items():
        ticket = await load(ctx, ticket_id)
        line = tx.EXPIRED_CARD.format(minutes=minutes, at=now_text(ctx))
        for offer in offers:
            await close_offer(ctx, ticket, offer, OfferStatus.EXPIRED, line)
        people = [o.person_id for o in offers]
        if ticket.status is Status.ASSIGNED and ticket.assignee_id in people:
            ticket.record(cmd.actor, now, "expired", engineers=people, minutes=minutes)
            ticket.move_to(Status.NEW, actor=cmd.actor, at=now, reason="超时未接单")
            roster.unassigned(ticket.assignee_id)  # the roster was read before this change
            ticket.assignee_id = None
        elif ticket.status is Status.NEW:
            if any(o.is_open for o in await ctx.uow.dispatch.for_ticket(ticket.id)):
                continue
            ticket.record(cmd.actor, now, "expired", engineers=people, minutes=minutes)
        else:
            continue
        await ctx.uow.tickets.save(ticket)
        again.append(ticket)
    why = tx.WHY_TIMEOUT.format(minutes=minutes)
    for ticket in again:
        await dispatch(ticket, ctx, actor=cmd.actor, why_nobody=why, roster=roster)
    return len(lapsed)


async def _read_ahead(ctx: Context, ticket_ids: list[int], engineers: list[str]) -> Roster:
    """One statement per table for what re-dispatching these tickets reads: the tickets (locked
    on PostgreSQL) and their histories, offers, SLA clocks and assets, the roster (staff with
    their identities: whom the cards go to), the requesters and any lapsed engineer who is no
    longer active. Returns the roster, read before the scan changes any ticket."""
    tickets = await ctx.uow.tickets.get_many(ticket_ids, lock=True)
    await ctx.uow.dispatch.preload(ticket_ids)
    await ctx.uow.sla.preload(ticket_ids)
    await ctx.uow.assets.get_many([t.asset_id for t in tickets if t.asset_id])
    roster = await ctx.uow.dispatch.roster()
    ctx.uow.people.remember(roster.staff)
    await ctx.uow.people.get_many([t.requester_id for t in tickets] + engineers)
    return roster


async def transfer_ticket(cmd: TransferTicket, ctx: Context) -> Ticket:
    """转派: the assignee, an agent or a manager hands the ticket to another engineer."""
    ticket = await load(ctx, cmd.ticket_id)
    ref, actor = ticket.ref, cmd.actor
    is_assignee = ticket.assignee_id == actor.person_id and actor.has("engineer")
    if not (actor.has("agent", "manager") or is_assignee):
        raise Forbidden(tx.TRANSFER_FORBIDDEN.format(ref=ref))
    allowed = (
        (Status.ASSIGNED, Status.ACCEPTED)
        if is_assignee
        else (Status.NEW, Status.ASSIGNED, Status.ACCEPTED)
    )
    if ticket.status not in allowed:
        status = STATUS_ZH[ticket.status]
        raise InvalidTransition(tx.CANNOT.format(ref=ref, status=status, verb="转派"))
    who = cmd.to.strip()
    if not who:
        raise invalid("to", tx.TRANSFER_WHO.format(ref=ref))
    target = await ctx.uow.people.find(who)
    if target is None:
        raise NotFound(tx.TRANSFER_UNKNOWN.format(who=who, ref=ref))
    if not (target.active and target.is_staff and "engineer" in target.roles):
        raise invalid("to", tx.TRANSFER_NOT_ENGINEER.format(who=who, ref=ref))
    if target.id == ticket.assignee_id:
        raise Conflict(tx.TRANSFER_SAME.format(ref=ref, name=target.name))
    now, previous = ctx.clock.now(), ticket.assignee_id
    n = len(ticket.history)
    reason = cmd.reason.strip()
    ticket.record(
        actor, now, "transferred", from_engineer=previous, to_engineer=target.id, reason=reason
    )
    ticket.assignee_id = target.id
    ticket.move_to(Status.ASSIGNED, actor=actor, at=now, assignee=target.id, transfer=True)
    # a transfer is no first response: the new engineer's 接单 is
    await ctx.uow.tickets.save(ticket)
    ticket.events.append(
        TicketAssigned(ticket_id=ticket.id, assignee_id=target.id, previous_assignee_id=previous)
    )
    key = f"t{ticket.id}:transfer:{n}"
    if previous and previous != actor.person_id:
        text = tx.TRANSFERRED_FROM_YOU.format(ref=ref, actor=actor.name, name=target.name)
        await notify.tell(ctx, previous, text, key=f"{key}:old", ticket_id=ticket.id)
    done = tx.TRANSFER_DONE.format(ref=ref, name=target.name)
    await notify.tell(
        ctx, actor.person_id, done, key=f"{key}:actor", ticket_id=ticket.id, prefer=actor.channel
    )
    return ticket


COMMAND_HANDLERS: dict[type, CommandHandler] = {
    DispatchTicket: dispatch_ticket,
    ScanAssignments: scan_assignments,
    TransferTicket: transfer_ticket,
}
EVENT_HANDLERS: dict[type, list[EventHandler]] = {
    TicketOpened: [on_opened],
    TicketDeclined: [after_declined],
}
