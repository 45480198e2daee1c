"""Spare-parts commands: 申请备件 (RequestParts) and 同意 / 驳回 (DecidePartsRequest)."""

from __future__ import annotations

from core.bus import Context
from core.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)
from core.notify import people_with_role
from core.parts import reactions, texts
from core.parts.commands import DecidePartsRequest, RequestParts
from core.parts.events import PartsDecided, PartsRequested, StockFellBelowMinimum
from core.parts.model import MAX_QTY, PartsRequest, RequestStatus, resolve_lines, total_cost
from core.tickets.handlers import load
from core.tickets.model import ref
from core.tickets.workflow import Status, label


def _invalid(field: str, message: str) -> ValidationFailed:
    error = ValidationFailed([FieldError(field, message)])
    error.message = message  # said to a person in chat as it is
    return error


async def request_parts(cmd: RequestParts, ctx: Context) -> PartsRequest:
    ticket = await load(ctx, cmd.ticket_id)
    actor = cmd.actor
    own = actor.has("engineer") and ticket.assignee_id == actor.person_id
    if not (own or actor.has("agent", "manager")):
        raise Forbidden(texts.forbidden_request(ticket.ref))
    if ticket.status is not Status.ACCEPTED:
        raise InvalidTransition(
            texts.not_accepted(ticket.ref, label(ticket.status)), field="status"
        )
    if not cmd.lines:
        raise _invalid("lines", texts.no_lines(ticket.ref))
    catalogue = await ctx.uow.parts.catalogue()
    lines, problems = resolve_lines(catalogue, cmd.lines)
    if problems:
        raise _invalid("lines", texts.unresolved(ticket.ref, problems, catalogue))
    if any(not 1 <= line.qty <= MAX_QTY for line in lines):
        raise _invalid("lines", texts.bad_qty(ticket.ref))
    keepers = await people_with_role(ctx, "stock_keeper")
    if not keepers:
        raise Conflict(texts.no_keepers(ticket.ref))

    now = ctx.clock.now()
    cost = total_cost(lines)
    request_id = await ctx.uow.parts.add_request(
        ticket_id=ticket.id, requested_by=actor.person_id, lines=lines, cost=cost, at=now
    )
    ticket.record(
        actor,
        now,
        "parts_requested",
        request=request_id,
        lines=[line.dump() for line in lines],
        cost=cost,
        keepers=keepers,
    )
    ticket.move_to(Status.WAITING_PARTS, actor=actor, at=now, request=request_id)
    await ctx.uow.tickets.save(ticket)
    ticket.events.append(
        PartsRequested(
            ticket_id=ticket.id,
            request_id=request_id,
            keepers=tuple(keepers),
            prefer=actor.channel.value,
        )
    )
    request = await ctx.uow.parts.get_request(request_id)
    assert request is not None
    return request


async def _already_decided(ctx: Context, request: PartsRequest) -> Conflict:
    who = await ctx.uow.people.get(request.decided_by or "")
    name = who.name if who else (request.decided_by or "其他库管")
    approved = request.status is RequestStatus.APPROVED
    return Conflict(texts.already_decided(ref(request.ticket_id), request.id, name, approved))


async def decide_parts_request(cmd: DecidePartsRequest, ctx: Context) -> PartsRequest:
    request = await ctx.uow.parts.get_request(cmd.request_id)
    if request is None:
        raise NotFound(texts.no_request(cmd.request_id))
    tref = ref(request.ticket_id)
    if not cmd.actor.has("stock_keeper"):
        raise Forbidden(texts.keepers_only(tref))
    if request.status is not RequestStatus.PENDING:
        raise await _already_decided(ctx, request)
    reason = cmd.reason.strip()[:500]
    if not cmd.approve and not reason:
        raise _invalid("reason", texts.reason_required(tref))

    now = ctx.clock.now()
    status = RequestStatus.APPROVED if cmd.approve else RequestStatus.REJECTED
    # the claim comes first: it takes the row (or database) lock, so a concurrent decision
    # waits here and then finds the request decided
    won = await ctx.uow.parts.decide(
        request.id, status=status, decided_by=cmd.actor.person_id, at=now, reason=reason
    )
    if not won:
        raise await _already_decided(ctx, await ctx.uow.parts.get_request(request.id) or request)
    ticket = await load(ctx, request.ticket_id)
    if ticket.status is not Status.WAITING_PARTS:
        raise InvalidTransition(texts.wrong_ticket_state(tref, label(ticket.status)))

    low: list[str] = []
    if cmd.approve:
        short = []
        for line in sorted(request.lines, key=lambda x: x.sku):  # one lock order for all
            after = await ctx.uow.parts.take(line.sku, line.qty, at=now)
            if after is None:
                short.append((line, await ctx.uow.parts.get(line.sku)))
            elif after.stock < after.min_stock <= after.stock + line.qty:
                low.append(after.sku)
        if short:
            raise Conflict(texts.stock_short(tref, request.id, short))
        ticket.parts_cost = round(ticket.parts_cost + request.cost, 2)
        ticket.record(cmd.actor, now, "parts_approved", request=request.id, cost=request.cost)
    else:
        ticket.record(cmd.actor, now, "parts_rejected", request=request.id, reason=reason)
    ticket.move_to(Status.ACCEPTED, actor=cmd.actor, at=now, request=request.id)
    await ctx.uow.tickets.save(ticket)
    ticket.events.append(
        PartsDecided(
            ticket_id=ticket.id,
            request_id=request.id,
            approved=cmd.approve,
            decided_by=cmd.actor.person_id,
            reason=reason,
        )
    )
    for sku in low:
        ticket.events.append(
            StockFellBelowMinimum(ticket_id=ticket.id, request_id=request.id, sku=sku)
        )
    decided = await ctx.uow.parts.get_request(request.id)
    assert decided is not None
    return decided


COMMAND_HANDLERS = {RequestParts: request_parts, DecidePartsRequest: decide_parts_request}
EVENT_HANDLERS = reactions.EVENT_HANDLERS
