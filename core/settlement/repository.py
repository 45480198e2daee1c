"""Settlements and the parts a ticket used, on SQLAlchemy Core."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core import db
from core.settlement.calc import PartUse, Settlement


class SqlSettlementRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def parts_used(self, ticket_id: int) -> list[PartUse]:
        """Every approved request's lines (the price when it was asked), in request order."""
        r = db.part_requests
        rows = await self._conn.execute(
            select(r.c.lines)
            .where(r.c.ticket_id == ticket_id, r.c.status == "approved")
            .order_by(r.c.id)
        )
        used: list[PartUse] = []
        for (lines,) in rows:
            for line in lines or []:
                used.append(
                    PartUse(
                        sku=str(line["sku"]),
                        name=str(line["name"]),
                        qty=int(line["qty"]),
                        unit_cost=Decimal(repr(float(line["unit_cost"]))),
                    )
                )
        return used

    async def save(
        self,
        ticket_id: int,
        settlement: Settlement,
        *,
        customer: str,
        engineer_id: str,
        closed_at: datetime,
        at: datetime,
    ) -> None:
        s = db.settlements
        await self._conn.execute(delete(s).where(s.c.ticket_id == ticket_id))
        await self._conn.execute(
            insert(s).values(
                ticket_id=ticket_id,
                customer=customer,
                engineer_id=engineer_id,
                closed_at=closed_at,
                lines=[line.dump() for line in settlement.lines],
                total=str(settlement.total),
                customer_pays=str(settlement.customer_pays),
                free_reason=settlement.free_reason,
                labour_minutes=settlement.labour_minutes,
                created_at=at,
            )
        )

    async def get(self, ticket_id: int) -> dict[str, Any] | None:
        s = db.settlements
        row = (await self._conn.execute(select(s).where(s.c.ticket_id == ticket_id))).first()
        return dict(row._mapping) if row else None

    async def closed_between(
        self, start: datetime, end: datetime, *, customer: str | None = None
    ) -> list[dict[str, Any]]:
        s, t = db.settlements, db.tickets
        conds = [s.c.closed_at >= start, s.c.closed_at < end]
        if customer:
            conds.append(s.c.customer == customer)
        rows = await self._conn.execute(
            select(s, t.c.title, t.c.type, t.c.asset_id)
            .select_from(s.join(t, t.c.id == s.c.ticket_id))
            .where(*conds)
            .order_by(s.c.customer, s.c.closed_at, s.c.ticket_id)
        )
        return [dict(r._mapping) for r in rows]
