"""Who hears about a clock: warnings go to the assignee (the agents, else the managers, while
unassigned); breaches to the assignee and the managers (those of the ticket's region, and those
without a region, when managers have regions). ``staff`` is read once per scan."""

from __future__ import annotations

from collections.abc import Sequence

from core.bus import Context
from core.people.model import Person
from core.tickets import rules
from core.tickets.model import Ticket


def _with_role(staff: Sequence[Person], role: str) -> list[str]:
    return [p.id for p in staff if role in p.roles]


def warning_people(ticket: Ticket, staff: Sequence[Person]) -> list[str]:
    if ticket.assignee_id:
        return [ticket.assignee_id]
    return _with_role(staff, "agent") or _with_role(staff, "manager")


async def region_of(ctx: Context, ticket: Ticket, staff: Sequence[Person]) -> str:
    asset = await ctx.uow.assets.get(ticket.asset_id) if ticket.asset_id else None
    if asset is not None and asset.region:
        return str(asset.region)
    return rules.ticket_region(ticket, ctx.config, [p.region for p in staff])


async def breach_people(ctx: Context, ticket: Ticket, staff: Sequence[Person]) -> list[str]:
    managers = [p for p in staff if "manager" in p.roles]
    if any(p.region for p in managers):
        region = await region_of(ctx, ticket, staff)
        mine = [p for p in managers if not p.region or p.region == region]
        managers = mine or managers
    people = [ticket.assignee_id] if ticket.assignee_id else []
    return list(dict.fromkeys([*people, *(p.id for p in managers)]))
