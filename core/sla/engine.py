"""Keeping the clocks in step, and what happens around a warning or a breach.

``settle`` runs after every command, before the commit: the clocks of each ticket the command
saved are recomputed from its facts and stored, so no handler has to remember the SLA. After a
config (re)load ``RecomputeSla`` does the same for the open tickets whose policy or calendar
changed. A breached response with ``escalate: redispatch`` takes the ticket back from the
engineer who did not accept it and dispatches it again.
"""

from __future__ import annotations

from core.bus import CommandHandler, Context, EventHandler
from core.messages import Actor
from core.sla import texts as tx
from core.sla.ack import acknowledge
from core.sla.clocks import compute, fingerprint, policy_for
from core.sla.commands import AcknowledgeSla, RecomputeSla, ScanSla, SlaBreached
from core.sla.scan import scan_sla
from core.tickets.assignment import close_offer, now_text
from core.tickets.dispatch import dispatch
from core.tickets.handlers import load
from core.tickets.model import Priority, Ticket
from core.tickets.offers import OfferStatus
from core.tickets.workflow import Status

RECOMPUTE_PAGE = 200
SYSTEM = Actor.system()


async def refresh(ctx: Context, ticket: Ticket) -> None:
    clocks = compute(ticket, ctx.config)
    await ctx.uow.sla.store(ticket.id, clocks)
    response, resolve = clocks["response"].due_at, clocks["resolve"].due_at
    if (ticket.response_due_at, ticket.resolve_due_at) != (response, resolve):
        ticket.response_due_at, ticket.resolve_due_at = response, resolve
        await ctx.uow.tickets.save(ticket)


async def settle(ctx: Context) -> None:
    """Before the commit: recompute the clocks of every ticket this unit of work saved."""
    for ticket in list(ctx.uow.tickets.saved.values()):
        await refresh(ctx, ticket)


def current_policies(ctx: Context) -> dict[tuple[str, str], str]:
    out = {}
    for typ in ctx.config.ticket_types:
        for prio in Priority:
            policy = policy_for(ctx.config, typ.key, prio)
            cal = next(c for c in ctx.config.calendars if c.key == policy.calendar)
            out[(typ.key, prio.value)] = fingerprint(policy, cal)
    return out


async def recompute(cmd: RecomputeSla, ctx: Context) -> int:
    """One page of open tickets whose clocks are stale, after ``cmd.after_id``; returns the
    last ticket id done (0 when none is left)."""
    ids = await ctx.uow.sla.stale(current_policies(ctx), cmd.after_id, RECOMPUTE_PAGE)
    for ticket_id in ids:
        await refresh(ctx, await load(ctx, ticket_id))
    return ids[-1] if ids else 0


async def redispatch(event: SlaBreached, ctx: Context) -> None:
    if event.target != "response":
        return
    ticket = await load(ctx, event.ticket_id)
    if policy_for(ctx.config, ticket.type, ticket.priority).escalate != "redispatch":
        return
    if ticket.status not in (Status.NEW, Status.ASSIGNED):
        return
    now = ctx.clock.now()
    line = tx.REDISPATCHED_CARD.format(at=now_text(ctx))
    offers = await ctx.uow.dispatch.for_ticket(ticket.id)
    for offer in offers:
        if offer.is_open:
            await close_offer(ctx, ticket, offer, OfferStatus.EXPIRED, line)
    ticket.record(SYSTEM, now, "sla_redispatched", engineer=ticket.assignee_id)
    if ticket.status is Status.ASSIGNED:
        ticket.move_to(Status.NEW, actor=SYSTEM, at=now, reason="响应超时")
        ticket.assignee_id = None
    await ctx.uow.tickets.save(ticket)
    await dispatch(ticket, ctx, actor=SYSTEM)


COMMAND_HANDLERS: dict[type, CommandHandler] = {
    ScanSla: scan_sla,
    RecomputeSla: recompute,
    AcknowledgeSla: acknowledge,
}
EVENT_HANDLERS: dict[type, list[EventHandler]] = {SlaBreached: [redispatch]}
BEFORE_COMMIT = [settle]
