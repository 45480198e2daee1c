"""Each closed ticket gets its settlement lines, in the same transaction as the close."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from core.bus import Context
from core.settlement.calc import Settlement, settle
from core.tickets.events import ResolutionConfirmed, TicketStatusChanged
from core.tickets.handlers import load
from core.tickets.model import Ticket
from core.tickets.workflow import Status


def on_site_span(ticket: Ticket) -> tuple[datetime | None, datetime | None, str]:
    """(start, end, what started it): the first check-in (到场) to the last 完工; without a
    check-in the current assignee's acceptance stands in (``accepted``)."""
    end = next(
        (
            e.at
            for e in reversed(ticket.history)
            if e.action == "status_changed" and e.data.get("to") == Status.RESOLVED.value
        ),
        None,
    )
    arrived = next((e.at for e in ticket.history if e.action == "arrived"), None)
    if arrived is not None and (end is None or arrived <= end):
        return arrived, end, "arrived"
    # the current assignee's acceptance: the first move to accepted after the last assignment
    # (later moves back to accepted, after parts or a reopen, do not restart the clock)
    moves = [e for e in ticket.history if e.action == "status_changed"]
    last_assigned = max(
        (i for i, e in enumerate(moves) if e.data.get("to") == Status.ASSIGNED.value), default=-1
    )
    accepted = next(
        (
            e.at
            for e in moves[last_assigned + 1 :]
            if e.data.get("to") == Status.ACCEPTED.value and (end is None or e.at <= end)
        ),
        None,
    )
    return accepted, end, "accepted"


def on_site_minutes(ticket: Ticket) -> int:
    start, end, _ = on_site_span(ticket)
    if start is None or end is None or end <= start:
        return 0
    return int((end - start).total_seconds() // 60)


async def settle_ticket(ticket: Ticket, ctx: Context) -> tuple[Settlement, str]:
    """The ticket's settlement and its customer (the asset's, else the requester's name)."""
    cfg = ctx.config
    asset = await ctx.uow.assets.get(ticket.asset_id) if ticket.asset_id else None
    closed = ticket.closed_at or ctx.clock.now()
    day = closed.astimezone(ZoneInfo(cfg.timezone)).date()
    engineer = next((p for p in cfg.people if p.id == ticket.assignee_id), None)
    settlement = settle(
        minutes=on_site_minutes(ticket),
        level=(engineer.level if engineer else "") or cfg.settlement.default_level,
        ticket_type=ticket.type,
        parts=await ctx.uow.settlements.parts_used(ticket.id),
        region=asset.region if asset else "",
        free_reason=asset.free_reason(day) if asset else "",
        cfg=cfg.settlement,
    )
    customer = asset.customer if asset and asset.customer else ""
    if not customer:
        requester = await ctx.uow.people.get(ticket.requester_id)
        customer = requester.name if requester else ticket.requester_id
    return settlement, customer


async def on_status_changed(event: TicketStatusChanged, ctx: Context) -> None:
    """Closed by staff through the API or chat (not by the customer): settled all the same."""
    if event.current == Status.CLOSED.value:
        await on_closed(event, ctx)


async def on_closed(event: ResolutionConfirmed | TicketStatusChanged, ctx: Context) -> None:
    ticket = await load(ctx, event.ticket_id)
    if ticket.status is not Status.CLOSED:
        return
    settlement, customer = await settle_ticket(ticket, ctx)
    await ctx.uow.settlements.save(
        ticket.id,
        settlement,
        customer=customer,
        engineer_id=ticket.assignee_id or "",
        closed_at=ticket.closed_at or ctx.clock.now(),
        at=ctx.clock.now(),
    )


COMMAND_HANDLERS: dict[type, object] = {}
EVENT_HANDLERS = {ResolutionConfirmed: [on_closed], TicketStatusChanged: [on_status_changed]}
