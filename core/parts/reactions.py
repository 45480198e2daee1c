"""Reactions to parts events: approval cards to the stock keepers, their updates, and telling
the engineer. Everything goes through core/notify.py in the command's transaction."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from core import notify
from core.bus import Context
from core.parts import texts
from core.parts.events import PartsDecided, PartsRequested, StockFellBelowMinimum
from core.parts.model import PartsRequest
from core.tickets.handlers import load
from core.tickets.model import Ticket
from core.tickets.texts import when

BUILDER = "parts_approval"
_UNSAFE = re.compile(r"[^0-9A-Za-z_\-]")


def card_key(ticket_id: int, request_id: int, person_id: str) -> str:
    """One card per stock keeper (a WeCom task id and a DingTalk outTrackId are unique)."""
    slug = _UNSAFE.sub("-", person_id)
    if slug != person_id:
        slug += "-" + hashlib.sha1(person_id.encode()).hexdigest()[:6]
    return f"t{ticket_id}_parts_{request_id}_{slug}"


async def _request(ctx: Context, request_id: int) -> PartsRequest:
    request = await ctx.uow.parts.get_request(request_id)
    assert request is not None, f"part request {request_id} vanished inside its transaction"
    return request


async def _name(ctx: Context, person_id: str) -> str:
    person = await ctx.uow.people.get(person_id)
    return person.name if person else person_id


async def card_args(ctx: Context, ticket: Ticket, request: PartsRequest) -> dict[str, Any]:
    return {
        "ticket_id": ticket.id,
        "request_id": request.id,
        "title": ticket.title,
        "requested_by": await _name(ctx, request.requested_by),
        "lines": [line.dump() for line in request.lines],
        "cost": request.cost,
    }


def _keepers(ticket: Ticket, request_id: int) -> list[str]:
    """The stock keepers who were sent this request's card (recorded in the history)."""
    for entry in ticket.history:
        if entry.action == "parts_requested" and entry.data.get("request") == request_id:
            return [str(k) for k in entry.data.get("keepers", [])]
    return []


async def send_approval_cards(event: PartsRequested, ctx: Context) -> None:
    ticket = await load(ctx, event.ticket_id)
    request = await _request(ctx, event.request_id)
    args = await card_args(ctx, ticket, request)
    for keeper in event.keepers:
        await notify.card(
            ctx,
            keeper,
            builder=BUILDER,
            args=args,
            card_key=card_key(ticket.id, request.id, keeper),
            ticket_id=ticket.id,
        )
    await notify.tell(
        ctx,
        request.requested_by,
        texts.requested(ticket.ref, request.id, list(request.lines), request.cost),
        key=f"t{ticket.id}_parts_{request.id}:requested",
        ticket_id=ticket.id,
        prefer=event.prefer,
    )


async def on_decided(event: PartsDecided, ctx: Context) -> None:
    ticket = await load(ctx, event.ticket_id)
    request = await _request(ctx, event.request_id)
    who = await _name(ctx, event.decided_by)
    at = when(request.decided_at or ctx.clock.now(), ctx.config.timezone)
    status = texts.card_status(who, event.approved, at, event.reason)
    args = await card_args(ctx, ticket, request)
    for keeper in _keepers(ticket, request.id):
        await notify.card(
            ctx,
            keeper,
            builder=BUILDER,
            args=args,
            card_key=card_key(ticket.id, request.id, keeper),
            status=status,
            update=True,
            ticket_id=ticket.id,
        )
    if event.approved:
        told = texts.approved_for_engineer(ticket.ref, who, request.lines, request.cost)
    else:
        told = texts.rejected_for_engineer(ticket.ref, who, event.reason)
    key = f"t{ticket.id}_parts_{request.id}:decided"
    await notify.tell_many(
        ctx,
        [p for p in (ticket.assignee_id, request.requested_by) if p],
        told,
        key=key,
        ticket_id=ticket.id,
    )
    await notify.tell(
        ctx,
        event.decided_by,
        texts.decided_for_keeper(ticket.ref, request.id, event.approved),
        key=f"{key}:keeper",
        ticket_id=ticket.id,
    )


async def warn_stock_low(event: StockFellBelowMinimum, ctx: Context) -> None:
    part = await ctx.uow.parts.get(event.sku)
    if part is None:
        return
    ticket = await load(ctx, event.ticket_id)
    await notify.tell_many(
        ctx,
        await notify.people_with_role(ctx, "stock_keeper"),
        texts.stock_low(ticket.ref, part),
        key=f"stock_low:{part.sku}:r{event.request_id}",
        ticket_id=ticket.id,
    )


EVENT_HANDLERS = {
    PartsRequested: [send_approval_cards],
    PartsDecided: [on_decided],
    StockFellBelowMinimum: [warn_stock_low],
}
