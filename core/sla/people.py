"""Who hears about a clock: warnings go to the assignee (the agents while unassigned); breaches
to the assignee and the managers (those of the ticket's region when managers have regions)."""

from __future__ import annotations

from core import notify
from core.bus import Context
from core.tickets import rules
from core.tickets.model import Ticket


async def warning_people(ctx: Context, ticket: Ticket) -> list[str]:
    if ticket.assignee_id:
        return [ticket.assignee_id]
    return await notify.people_with_role(ctx, "agent") or await notify.people_with_role(
        ctx, "manager"
    )


async def region_of(ctx: Context, ticket: Ticket) -> str:
    asset = await ctx.uow.assets.get(ticket.asset_id) if ticket.asset_id else None
    if asset is not None and asset.region:
        return str(asset.region)
    staff = await ctx.uow.people.staff()
    return rules.ticket_region(ticket, ctx.config, [p.region for p in staff])


async def breach_people(ctx: Context, ticket: Ticket) -> list[str]:
    managers = [p for p in await ctx.uow.people.staff() if "manager" in p.roles]
    if any(p.region for p in managers):
        region = await region_of(ctx, ticket)
        mine = [p for p in managers if not p.region or p.region == region]
        managers = mine or managers
    people = [ticket.assignee_id] if ticket.assignee_id else []
    return list(dict.fromkeys([*people, *(p.id for p in managers)]))
