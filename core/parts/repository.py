"""Parts and part requests on SQLAlchemy Core (SQLite and PostgreSQL).

Stock is changed with one conditional UPDATE per line (``stock >= qty``), and a request is
decided with one conditional UPDATE (``status = 'pending'``): the row lock on PostgreSQL and
the write lock on SQLite make the first of two concurrent decisions win and the second see it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core import db
from core.parts.model import Part, PartLine, PartsRequest, RequestStatus


def _part(row: Any) -> Part:
    m = row._mapping
    return Part(
        sku=m["sku"],
        name=m["name"],
        stock=int(m["stock"]),
        unit_cost=float(m["unit_cost"]),
        min_stock=int(m["min_stock"]),
        unit=m["unit"],
    )


def _request(row: Any) -> PartsRequest:
    m = row._mapping
    return PartsRequest(
        id=int(m["id"]),
        ticket_id=int(m["ticket_id"]),
        requested_by=m["requested_by"],
        lines=tuple(PartLine.load(x) for x in m["lines"] or []),
        status=RequestStatus(m["status"]),
        cost=float(m["cost"]),
        created_at=m["created_at"],
        decided_by=m["decided_by"],
        decided_at=m["decided_at"],
        reason=m["reason"] or "",
    )


class SqlPartsRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def catalogue(self) -> list[Part]:
        rows = await self._conn.execute(select(db.parts).order_by(db.parts.c.sku))
        return [_part(r) for r in rows]

    async def get(self, sku: str) -> Part | None:
        row = (await self._conn.execute(select(db.parts).where(db.parts.c.sku == sku))).first()
        return _part(row) if row else None

    async def take(self, sku: str, qty: int, *, at: datetime) -> Part | None:
        """Deduct ``qty`` if that much is in stock; the part afterwards, or None when short."""
        p = db.parts
        row = (
            await self._conn.execute(
                update(p)
                .where(p.c.sku == sku, p.c.stock >= qty)
                .values(stock=p.c.stock - qty, updated_at=at)
                .returning(*p.c)
            )
        ).first()
        return _part(row) if row else None

    async def add_request(
        self,
        *,
        ticket_id: int,
        requested_by: str,
        lines: list[PartLine],
        cost: float,
        at: datetime,
    ) -> int:
        r = db.part_requests
        result = await self._conn.execute(
            insert(r)
            .values(
                ticket_id=ticket_id,
                requested_by=requested_by,
                lines=[line.dump() for line in lines],
                status=RequestStatus.PENDING.value,
                reason="",
                cost=cost,
                created_at=at,
            )
            .returning(r.c.id)
        )
        return int(result.scalar_one())

    async def get_request(self, request_id: int) -> PartsRequest | None:
        r = db.part_requests
        row = (await self._conn.execute(select(r).where(r.c.id == request_id))).first()
        return _request(row) if row else None

    async def decide(
        self,
        request_id: int,
        *,
        status: RequestStatus,
        decided_by: str,
        at: datetime,
        reason: str = "",
    ) -> bool:
        """Mark a pending request decided; False when someone else decided it first."""
        r = db.part_requests
        result = await self._conn.execute(
            update(r)
            .where(r.c.id == request_id, r.c.status == RequestStatus.PENDING.value)
            .values(status=status.value, decided_by=decided_by, decided_at=at, reason=reason)
        )
        return result.rowcount == 1
