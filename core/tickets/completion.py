"""完工, 确认完成, 未解决 and the automatic close: the end of a ticket's life.

Card keys: the completion card of the n-th resolution is ``t{id}_done_{n}`` (a reopened and
again finished ticket gets a new card); the satisfaction card is ``t{id}_rate`` (once).
Ratings live in core/tickets/rating.py; their handlers are registered here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from core import notify
from core.bus import Context
from core.errors import FieldError, Forbidden, InvalidTransition, ValidationFailed
from core.messages import Actor
from core.signoff.links import issue_link
from core.tickets import completion_texts as T
from core.tickets import rating
from core.tickets.commands import CompleteTicket, ConfirmResolution, ReopenTicket, ScanAutoClose
from core.tickets.events import ResolutionConfirmed, TicketReopened, TicketResolved
from core.tickets.handlers import load
from core.tickets.model import HistoryEntry, Ticket
from core.tickets.texts import when
from core.tickets.workflow import STATUS_ZH, Status

SCAN_BATCH = 200  # closed per scan, oldest first; the next scan (a minute later) goes on


def resolve_round(ticket: Ticket) -> int:
    """How many times the ticket was resolved: names its current completion card."""
    return sum(1 for e in ticket.history if _is_move(e, Status.RESOLVED))


def done_key(ticket_id: int, round_: int) -> str:
    return f"t{ticket_id}_done_{round_}"


def _is_move(entry: HistoryEntry, to: Status) -> bool:
    return entry.action == "status_changed" and entry.data.get("to") == to.value


def last_move(ticket: Ticket, to: Status) -> HistoryEntry | None:
    return next((e for e in reversed(ticket.history) if _is_move(e, to)), None)


def completion_args(ticket: Ticket, ctx: Context) -> dict[str, Any]:
    """The completion card's arguments, rebuilt from the last 完工 in the history."""
    entry = last_move(ticket, Status.RESOLVED)
    data = entry.data if entry else {}
    return {
        "id": ticket.id,
        "title": ticket.title,
        "engineer": entry.actor_name if entry else "",
        "summary": str(data.get("summary", "")),
        "photos": len(data.get("photos", []) or []),
        "resolved": when(entry.at if entry else None, ctx.config.timezone),
    }


def _require_requester(ticket: Ticket, actor: Actor, verb: str) -> None:
    if actor.person_id != ticket.requester_id:
        raise Forbidden(T.REQUESTER_ONLY.format(verb=verb, ref=ticket.ref))


def _require_resolved(ticket: Ticket, verb: str) -> None:
    if ticket.status is not Status.RESOLVED:
        raise InvalidTransition(
            T.NOT_RESOLVED.format(ref=ticket.ref, status=STATUS_ZH[ticket.status], verb=verb),
            field="status",
        )


# --- commands ----------------------------------------------------------------------------


async def complete_ticket(cmd: CompleteTicket, ctx: Context) -> Ticket:
    ticket = await load(ctx, cmd.ticket_id)
    if not cmd.actor.has("engineer"):
        raise Forbidden(T.ENGINEER_ONLY.format(ref=ticket.ref))
    if ticket.assignee_id != cmd.actor.person_id:
        raise Forbidden(T.NOT_YOUR_TICKET.format(ref=ticket.ref))
    if ticket.status is not Status.ACCEPTED:
        raise InvalidTransition(
            T.CANNOT_COMPLETE.format(ref=ticket.ref, status=STATUS_ZH[ticket.status]),
            field="status",
        )
    now = ctx.clock.now()
    ticket.move_to(
        Status.RESOLVED,
        actor=cmd.actor,
        at=now,
        summary=cmd.summary.strip()[:2000],
        photos=list(cmd.photos),
    )
    ticket.mark_first_response(now)
    await ctx.uow.tickets.save(ticket)
    ticket.events.append(
        TicketResolved(
            ticket_id=ticket.id, engineer_id=cmd.actor.person_id, round=resolve_round(ticket)
        )
    )
    return ticket


async def confirm_resolution(cmd: ConfirmResolution, ctx: Context) -> Ticket:
    ticket = await load(ctx, cmd.ticket_id)
    _require_requester(ticket, cmd.actor, "确认完成")
    _require_resolved(ticket, "确认完成")
    ticket.move_to(Status.CLOSED, actor=cmd.actor, at=ctx.clock.now(), confirmed=True, via="chat")
    await ctx.uow.tickets.save(ticket)
    ticket.events.append(ResolutionConfirmed(ticket_id=ticket.id, round=resolve_round(ticket)))
    return ticket


async def reopen_ticket(cmd: ReopenTicket, ctx: Context) -> Ticket:
    ticket = await load(ctx, cmd.ticket_id)
    _require_requester(ticket, cmd.actor, "反馈未解决")
    _require_resolved(ticket, "反馈未解决")
    reason = cmd.reason.strip()[:2000]
    if not reason:
        raise ValidationFailed([FieldError("reason", T.REASON_REQUIRED.format(ref=ticket.ref))])
    ticket.move_to(Status.ACCEPTED, actor=cmd.actor, at=ctx.clock.now(), reason=reason)
    await ctx.uow.tickets.save(ticket)
    ticket.events.append(
        TicketReopened(ticket_id=ticket.id, round=resolve_round(ticket), reason=reason)
    )
    return ticket


async def scan_auto_close(cmd: ScanAutoClose, ctx: Context) -> int:
    """Close resolved tickets unanswered for ``completion.auto_close_days``; returns how many."""
    if not cmd.actor.has("admin"):
        raise Forbidden("抱歉，只有系统可以自动关闭工单。")
    now = ctx.clock.now()
    days = ctx.config.completion.auto_close_days
    cutoff = now - timedelta(days=days)
    due = await ctx.uow.tickets.resolved_before(cutoff, limit=SCAN_BATCH)
    for ticket_id in due:
        ticket = await load(ctx, ticket_id)
        if ticket.status is not Status.RESOLVED:
            continue
        ticket.move_to(Status.CLOSED, actor=cmd.actor, at=now, auto=True, days=days)
        await ctx.uow.tickets.save(ticket)
        ticket.events.append(
            ResolutionConfirmed(ticket_id=ticket.id, round=resolve_round(ticket), auto=True)
        )
    return len(due)


# --- reactions ---------------------------------------------------------------------------


async def _name(ctx: Context, person_id: str | None) -> str:
    person = await ctx.uow.people.get(person_id) if person_id else None
    return person.name if person else (person_id or "")


async def _update_completion_card(ticket: Ticket, ctx: Context, round_: int, status: str) -> None:
    await notify.card(
        ctx,
        ticket.requester_id,
        builder="completion",
        args=completion_args(ticket, ctx),
        card_key=done_key(ticket.id, round_),
        status=status,
        update=True,
        ticket_id=ticket.id,
        prefer=ticket.channel,
    )


async def on_resolved(event: TicketResolved, ctx: Context) -> None:
    ticket = await load(ctx, event.ticket_id)
    key = done_key(ticket.id, event.round)
    sign_url = await issue_link(ctx, ticket.id, event.round)
    await notify.card(
        ctx,
        ticket.requester_id,
        builder="completion",
        args={**completion_args(ticket, ctx), "sign_url": sign_url},
        card_key=key,
        ticket_id=ticket.id,
        prefer=ticket.channel,
    )
    await notify.tell(
        ctx,
        ticket.requester_id,
        T.SIGN_LINK.format(ref=ticket.ref, url=sign_url),
        key=f"{key}:sign",
        ticket_id=ticket.id,
        prefer=ticket.channel,
    )
    await notify.tell(
        ctx,
        event.engineer_id,
        T.DONE_TO_ENGINEER.format(ref=ticket.ref),
        key=f"{key}:engineer",
        ticket_id=ticket.id,
    )


async def on_confirmed(event: ResolutionConfirmed, ctx: Context) -> None:
    ticket = await load(ctx, event.ticket_id)
    key = done_key(ticket.id, event.round)
    if event.auto:
        days = ctx.config.completion.auto_close_days
        await _update_completion_card(ticket, ctx, event.round, T.AUTO_CLOSED.format(days=days))
        await notify.tell(
            ctx,
            ticket.requester_id,
            T.AUTO_CLOSED_TO_REQUESTER.format(ref=ticket.ref, days=days),
            key=f"{key}:autoclosed",
            ticket_id=ticket.id,
            prefer=ticket.channel,
        )
        return
    name = await _name(ctx, ticket.requester_id)
    await _update_completion_card(ticket, ctx, event.round, T.CONFIRMED.format(name=name))
    await rating.send_satisfaction_card(ticket, ctx)
    await notify.tell(
        ctx,
        ticket.assignee_id,
        T.CONFIRMED_TO_ENGINEER.format(ref=ticket.ref),
        key=f"{key}:confirmed:engineer",
        ticket_id=ticket.id,
    )


async def on_reopened(event: TicketReopened, ctx: Context) -> None:
    ticket = await load(ctx, event.ticket_id)
    key = done_key(ticket.id, event.round)
    name = await _name(ctx, ticket.requester_id)
    await _update_completion_card(ticket, ctx, event.round, T.REOPENED.format(name=name))
    await notify.tell(
        ctx,
        ticket.assignee_id,
        T.REOPENED_TO_ENGINEER.format(ref=ticket.ref, reason=event.reason),
        key=f"{key}:reopened:engineer",
        ticket_id=ticket.id,
    )
    engineer = await _name(ctx, ticket.assignee_id)
    await notify.tell(
        ctx,
        ticket.requester_id,
        T.REOPENED_TO_REQUESTER.format(ref=ticket.ref, engineer=engineer),
        key=f"{key}:reopened:requester",
        ticket_id=ticket.id,
        prefer=ticket.channel,
    )


COMMAND_HANDLERS = {
    CompleteTicket: complete_ticket,
    ConfirmResolution: confirm_resolution,
    ReopenTicket: reopen_ticket,
    ScanAutoClose: scan_auto_close,
    **rating.COMMAND_HANDLERS,
}
EVENT_HANDLERS = {
    TicketResolved: [on_resolved],
    ResolutionConfirmed: [on_confirmed],
    TicketReopened: [on_reopened],
    **rating.EVENT_HANDLERS,
}
