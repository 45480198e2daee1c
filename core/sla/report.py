"""SLA figures for the managers' summary and daily digest: attainment per target and the tickets
now at risk. A clock counts in a period when it was decided in it: met (in time or late), or
breached without being met; it is attained when met by its due time. At risk: open tickets
with a target warned and not yet met nor breached, soonest due first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core import db
from core.sla.clocks import TARGET_ZH, TARGETS
from core.tickets.workflow import OPEN_STATUSES

AT_RISK_SHOWN = 5


def _count(cond: Any) -> Any:
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def _within(col: Any, start: datetime, end: datetime) -> Any:
    return and_(col.is_not(None), col >= start, col <= end)


async def sla_figures(conn: AsyncConnection, start: datetime, now: datetime) -> dict[str, Any]:
    c, t = db.sla_clocks.c, db.tickets.c
    met = _within(c.met_at, start, now)
    decided = or_(met, and_(c.met_at.is_(None), _within(c.breached_at, start, now)))
    in_time = and_(met, c.met_at <= c.due_at)
    rows = await conn.execute(  # the clocks met, or breached, in the period: two index ranges
        select(c.name, func.count(), _count(in_time)).where(decided).group_by(c.name)
    )
    by_name = {name: (int(total), int(ok)) for name, total, ok in rows}
    targets = [
        [TARGET_ZH[n], by_name[n][1], by_name[n][0]] for n in TARGETS if by_name.get(n, (0,))[0]
    ]
    risky = and_(
        t.status.in_([s.value for s in OPEN_STATUSES]),
        c.met_at.is_(None),
        c.stopped.is_(False),
        c.warned_at.is_not(None),
        c.breached_at.is_(None),
    )
    joined = db.sla_clocks.join(db.tickets, t.id == c.ticket_id)
    soonest = func.min(c.due_at)
    risk = (
        await conn.execute(
            select(c.ticket_id, soonest)
            .select_from(joined)
            .where(risky)
            .group_by(c.ticket_id)
            .order_by(soonest, c.ticket_id)
        )
    ).all()
    return {
        "sla_targets": targets,  # [[名称, 达成, 总数], ...]
        "at_risk": [f"#{tid}" for tid, _ in risk[:AT_RISK_SHOWN]],
        "at_risk_total": len(risk),
    }
