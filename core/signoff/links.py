"""The signing link of a completion: issued when the engineer finishes (完工)."""

from __future__ import annotations

from core.bus import Context


async def issue_link(ctx: Context, ticket_id: int, round_: int) -> str:
    token = await ctx.uow.signoffs.issue(ticket_id, round_, at=ctx.clock.now())
    return f"{ctx.config.public_base_url}/s/{token}"
