"""Assignment cards and the engineer's answer: 接单 / 拒单."""

from __future__ import annotations

from typing import Any

from core.bus import Context
from core.errors import Forbidden, InvalidTransition
from core.messages import Outbound
from core.people.model import Person
from core.tickets import texts
from core.tickets.commands import AcceptTicket, DeclineTicket
from core.tickets.events import TicketAccepted, TicketAssigned, TicketDeclined
from core.tickets.handlers import load
from core.tickets.model import PRIORITY_ZH, Ticket
from core.tickets.workflow import STATUS_ZH, Status


def assignment_round(ticket: Ticket) -> int:
    """How many times the ticket has been assigned: names the current assignment card."""
    return sum(
        1 for e in ticket.history if e.action == "status_changed" and e.data.get("to") == "assigned"
    )


def card_key(ticket: Ticket) -> str:
    return f"t{ticket.id}_assign_{assignment_round(ticket)}"


async def facts(ticket: Ticket, ctx: Context) -> dict[str, Any]:
    ticket_type = ctx.config.ticket_type(ticket.type)
    requester = await ctx.uow.people.get(ticket.requester_id)
    return {
        "id": ticket.id,
        "title": ticket.title,
        "type_name": ticket_type.name if ticket_type else ticket.type,
        "priority": PRIORITY_ZH[ticket.priority],
        "requester": requester.name if requester else ticket.requester_id,
        "due": texts.when(ticket.response_due_at, ctx.config.timezone),
        "device": str(ticket.fields.get("device", "")),
        "address": str(ticket.fields.get("address", "")),
    }


def _first_identity(person: Person) -> tuple[str, str] | None:
    return next(iter(sorted(person.identities.items())), None)


async def send_assignment_card(event: TicketAssigned, ctx: Context) -> None:
    ticket = await load(ctx, event.ticket_id)
    person = await ctx.uow.people.get(event.assignee_id)
    where = _first_identity(person) if person else None
    if where is None:
        return
    key = card_key(ticket)
    await ctx.uow.add_outbound(
        Outbound(
            platform=where[0],
            user_id=where[1],
            kind="card",
            card={"builder": "assignment", "args": await facts(ticket, ctx)},
            card_key=key,
            ticket_id=ticket.id,
            dedupe_key=f"{key}:send",
        ),
        at=ctx.clock.now(),
    )


async def _finish_card(ticket: Ticket, ctx: Context, engineer_id: str, status: str) -> None:
    person = await ctx.uow.people.get(engineer_id)
    where = _first_identity(person) if person else None
    if where is None:
        return
    key = card_key(ticket)
    await ctx.uow.add_outbound(
        Outbound(
            platform=where[0],
            user_id=where[1],
            kind="card_update",
            card={"builder": "assignment", "args": await facts(ticket, ctx), "status": status},
            card_key=key,
            ticket_id=ticket.id,
            dedupe_key=f"{key}:done",
        ),
        at=ctx.clock.now(),
    )


def _check_assignee(ticket: Ticket, cmd: AcceptTicket | DeclineTicket, verb: str) -> None:
    if not cmd.actor.has("engineer"):
        raise Forbidden(f"抱歉，只有工程师可以{verb}（工单 {ticket.ref}）。")
    if ticket.status is not Status.ASSIGNED:
        raise InvalidTransition(
            f"工单 {ticket.ref} 当前状态为{STATUS_ZH[ticket.status]}，无法{verb}。", field="status"
        )
    if ticket.assignee_id != cmd.actor.person_id:
        raise Forbidden(f"工单 {ticket.ref} 没有派给您，无法{verb}。")


async def accept_ticket(cmd: AcceptTicket, ctx: Context) -> Ticket:
    ticket = await load(ctx, cmd.ticket_id)
    _check_assignee(ticket, cmd, "接单")
    ticket.move_to(Status.ACCEPTED, actor=cmd.actor, at=ctx.clock.now())
    await ctx.uow.tickets.save(ticket)
    ticket.events.append(TicketAccepted(ticket_id=ticket.id, engineer_id=cmd.actor.person_id))
    return ticket


async def decline_ticket(cmd: DeclineTicket, ctx: Context) -> Ticket:
    ticket = await load(ctx, cmd.ticket_id)
    _check_assignee(ticket, cmd, "拒单")
    ticket.decline_count += 1
    ticket.move_to(Status.NEW, actor=cmd.actor, at=ctx.clock.now(), reason=cmd.reason.strip())
    ticket.assignee_id = None
    await ctx.uow.tickets.save(ticket)
    ticket.events.append(
        TicketDeclined(
            ticket_id=ticket.id, engineer_id=cmd.actor.person_id, reason=cmd.reason.strip()
        )
    )
    return ticket


async def on_accepted(event: TicketAccepted, ctx: Context) -> None:
    ticket = await load(ctx, event.ticket_id)
    engineer = await ctx.uow.people.get(event.engineer_id)
    name = engineer.name if engineer else event.engineer_id
    now = texts.when(ctx.clock.now(), ctx.config.timezone)
    await _finish_card(ticket, ctx, event.engineer_id, f"{name} 已接单（{now}）")
    requester = await ctx.uow.people.get(ticket.requester_id)
    where = _first_identity(requester) if requester else None
    if where:
        await ctx.uow.add_outbound(
            Outbound(
                platform=where[0],
                user_id=where[1],
                text=f"工单 {ticket.ref} 已由工程师 {name} 接单，将尽快与您联系。",
                ticket_id=ticket.id,
                dedupe_key=f"{card_key(ticket)}:accepted:tell",
            ),
            at=ctx.clock.now(),
        )


async def on_declined(event: TicketDeclined, ctx: Context) -> None:
    ticket = await load(ctx, event.ticket_id)
    engineer = await ctx.uow.people.get(event.engineer_id)
    name = engineer.name if engineer else event.engineer_id
    reason = f"：{event.reason}" if event.reason else ""
    await _finish_card(ticket, ctx, event.engineer_id, f"{name} 已拒单{reason}")


COMMAND_HANDLERS = {AcceptTicket: accept_ticket, DeclineTicket: decline_ticket}
EVENT_HANDLERS = {
    TicketAssigned: [send_assignment_card],
    TicketAccepted: [on_accepted],
    TicketDeclined: [on_declined],
}
