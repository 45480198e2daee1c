"""知道了 on an SLA card: recorded in the history of every ticket the card names, and the card
is updated in place to say who acknowledged it. A second click changes nothing."""

from __future__ import annotations

from core import notify
from core.bus import Context
from core.errors import Conflict, NotFound
from core.sla import texts as tx
from core.sla.clocks import compute
from core.sla.commands import AcknowledgeSla
from core.sla.scan import item_args
from core.tickets.handlers import load
from core.tickets.model import Ticket
from core.tickets.texts import when


async def acknowledge(cmd: AcknowledgeSla, ctx: Context) -> list[Ticket]:
    me, now = cmd.actor.person_id, ctx.clock.now()
    tickets: list[Ticket] = []
    items = []
    for ticket_id, target in cmd.items:
        ticket = await load(ctx, ticket_id)
        if any(
            e.action == "sla_acknowledged"
            and e.actor_id == me
            and e.data.get("card") == cmd.card_key
            for e in ticket.history
        ):
            refs = "、".join(f"#{t}" for t, _ in cmd.items)
            raise Conflict(tx.ALREADY_ACKED.format(refs=refs))
        stored = await ctx.uow.sla.get(ticket.id)
        clock = stored.get(target) or compute(ticket, ctx.config).get(target)
        if clock is None:
            raise NotFound(f"工单 {ticket.ref} 没有{target}时限。")
        items.append(item_args(ctx, ticket, clock, now))
        tickets.append(ticket)
    builder = "sla_warning" if cmd.kind == "warning" else "sla_breach"
    for ticket, (_, target) in zip(tickets, cmd.items, strict=True):
        ticket.record(
            cmd.actor, now, "sla_acknowledged", target=target, kind=cmd.kind, card=cmd.card_key
        )
        await ctx.uow.tickets.save(ticket)
    status = tx.ACKED.format(name=cmd.actor.name, at=when(now, ctx.config.timezone))
    await notify.card(
        ctx,
        me,
        builder=builder,
        args={"kind": cmd.kind, "items": items},
        card_key=cmd.card_key,
        status=status,
        update=True,
        ticket_id=tickets[0].id if tickets else None,
        prefer=cmd.actor.channel,
    )
    return tickets
