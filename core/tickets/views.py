"""Read models: tickets as plain dicts for the REST API and the cards."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.sla.clocks import TARGETS, Clock
from core.tickets.model import HistoryEntry, Ticket


def iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def history_item(entry: HistoryEntry) -> dict[str, Any]:
    return {
        "at": iso(entry.at),
        "actor": entry.actor_id,
        "actor_name": entry.actor_name,
        "channel": entry.channel,
        "action": entry.action,
        **{k: v for k, v in entry.data.items() if k not in ("at", "actor", "channel", "action")},
    }


def target_view(clock: Clock, now: datetime) -> dict[str, Any]:
    """One entry of ``sla.targets`` (CONTRACT §9), with the pauses and the mark times."""
    return {
        "name": clock.name,
        "due_at": iso(clock.due_at),
        "met": clock.met(now),
        "paused": clock.paused,
        "warned_at": iso(clock.warned_at),
        "breached_at": iso(clock.breached_at),
        "met_at": iso(clock.met_at),
        "warn_at": iso(clock.warn_at),
        "minutes": clock.minutes,
        "calendar": clock.calendar,
        "pauses": [
            {"from": iso(p.start), "to": iso(p.end), "status": p.status} for p in clock.pauses
        ],
    }


def sla_view(
    ticket: Ticket, now: datetime, clocks: dict[str, Clock] | None = None
) -> dict[str, Any]:
    response_met = (
        ticket.first_response_at <= ticket.response_due_at
        if ticket.first_response_at and ticket.response_due_at
        else None
    )
    done_at = ticket.resolved_at or ticket.closed_at
    resolve_met = done_at <= ticket.resolve_due_at if done_at and ticket.resolve_due_at else None
    overdue = bool(
        ticket.resolve_due_at
        and done_at is None
        and ticket.status.value != "cancelled"
        and now > ticket.resolve_due_at
    )
    return {
        "response_due_at": iso(ticket.response_due_at),
        "resolve_due_at": iso(ticket.resolve_due_at),
        "first_response_at": iso(ticket.first_response_at),
        "arrived_at": iso(ticket.arrived_at),
        "resolved_at": iso(ticket.resolved_at),
        "response_met": response_met,
        "resolve_met": resolve_met,
        "overdue": overdue,
        "targets": [target_view(clocks[n], now) for n in TARGETS if clocks and n in clocks],
    }


def ticket_summary(ticket: Ticket) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "ref": ticket.ref,
        "title": ticket.title,
        "status": ticket.status.value,
        "priority": ticket.priority.value,
        "type": ticket.type,
        "assignee": ticket.assignee_id,
        "requester": ticket.requester_id,
        "created_at": iso(ticket.created_at),
        "updated_at": iso(ticket.updated_at),
    }


def ticket_detail(
    ticket: Ticket, now: datetime, clocks: dict[str, Clock] | None = None
) -> dict[str, Any]:
    return {
        **ticket_summary(ticket),
        "description": ticket.description,
        "channel": ticket.channel,
        "fields": ticket.fields,
        "sla": sla_view(ticket, now, clocks),
        "rating": ticket.rating,
        "parts_cost": ticket.parts_cost,
        "closed_at": iso(ticket.closed_at),
        "asset": ticket.asset_id,
        "signature": None,  # filled by the API from the sign-off (core/fieldservice)
        "settlement": None,
        "history": [history_item(e) for e in ticket.history],
    }
