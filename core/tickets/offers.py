"""Offers: who was offered a ticket (a direct assignment or a pool card) and how it ended.

One row per person per dispatch round. Open offers are what the accept-timeout scan looks at;
closed ones tell the rules who declined or let a ticket lapse, and ``assigned_at`` tells
round robin who was given work longest ago.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core import db
from core.people.directory import person_from_row
from core.people.model import Person, PersonKind
from core.tickets.workflow import Status

LOAD_STATUSES = (Status.ASSIGNED.value, Status.ACCEPTED.value)  # what counts against max_open


class Mode(StrEnum):
    DIRECT = "direct"
    POOL = "pool"


class OfferStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"  # not accepted within the timeout
    TAKEN = "taken"  # a pool offer someone else accepted first
    WITHDRAWN = "withdrawn"  # reassigned or transferred before an answer


@dataclass
class Roster:
    """Who may be dispatched to, as one scan sees them: staff, open load, last assignment."""

    staff: list[Person] = field(default_factory=list)
    loads: dict[str, int] = field(default_factory=dict)
    last_assigned: dict[str, datetime] = field(default_factory=dict)

    def assigned(self, person_id: str, at: datetime) -> None:
        """A ticket was just assigned to the person (later picks in the same scan see it)."""
        self.loads[person_id] = self.loads.get(person_id, 0) + 1
        self.last_assigned[person_id] = at


@dataclass(kw_only=True)
class Offer:
    ticket_id: int
    round: int
    person_id: str
    card_key: str
    mode: Mode
    offered_at: datetime
    status: OfferStatus = OfferStatus.OPEN
    assigned_at: datetime | None = None
    closed_at: datetime | None = None
    reason: str = ""

    @property
    def is_open(self) -> bool:
        return self.status is OfferStatus.OPEN


_COLS = "ticket_id round person_id card_key mode status offered_at assigned_at closed_at reason"


def _values(offer: Offer) -> dict[str, Any]:
    values = {name: getattr(offer, name) for name in _COLS.split()}
    values["mode"] = offer.mode.value
    values["status"] = offer.status.value
    return values


def _from_row(row: Any) -> Offer:
    m = row._mapping
    data = {name: m[name] for name in _COLS.split()}
    data["mode"] = Mode(data["mode"])
    data["status"] = OfferStatus(data["status"])
    return Offer(**data)


class SqlDispatchRepository:
    """Offers, and the roster (engineers' open load and last assignment times)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, offer: Offer) -> None:
        await self._conn.execute(insert(db.offers).values(**_values(offer)))

    async def save(self, offer: Offer) -> None:
        o = db.offers.c
        await self._conn.execute(
            update(db.offers)
            .where(
                o.ticket_id == offer.ticket_id,
                o.round == offer.round,
                o.person_id == offer.person_id,
            )
            .values(**_values(offer))
        )

    async def for_ticket(self, ticket_id: int) -> list[Offer]:
        rows = await self._conn.execute(
            select(db.offers).where(db.offers.c.ticket_id == ticket_id).order_by(db.offers.c.id)
        )
        return [_from_row(r) for r in rows]

    async def due(self, before: datetime, *, limit: int = 100) -> list[Offer]:
        """Open offers made at or before ``before``; locked (others skip them) on PostgreSQL."""
        stmt = (
            select(db.offers)
            .where(db.offers.c.status == OfferStatus.OPEN.value, db.offers.c.offered_at <= before)
            .order_by(db.offers.c.offered_at, db.offers.c.id)
            .limit(limit)
        )
        if self._conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        return [_from_row(r) for r in await self._conn.execute(stmt)]

    async def roster(self) -> Roster:
        """Active staff with their open load and last assignment, in one statement: two
        correlated index lookups per person (tickets by status and assignee, offers by person
        and assigned_at), never a pass over the history. Identities are not read."""
        p, t, o = db.people, db.tickets.c, db.offers.c
        load = (
            select(func.count())
            .where(t.status.in_(LOAD_STATUSES), t.assignee_id == p.c.id)
            .scalar_subquery()
        )
        last = select(func.max(o.assigned_at)).where(o.person_id == p.c.id).scalar_subquery()
        rows = await self._conn.execute(
            select(p, load.label("open_load"), last.label("last_assigned"))
            .where(p.c.kind == PersonKind.STAFF.value, p.c.active.is_(True))
            .order_by(p.c.id)
        )
        roster = Roster()
        for row in rows:
            person = person_from_row(row, {})
            roster.staff.append(person)
            if row.open_load:
                roster.loads[person.id] = int(row.open_load)
            if row.last_assigned is not None:
                roster.last_assigned[person.id] = _aware(row.last_assigned)
        return roster


def _aware(value: Any) -> datetime:
    # func.max bypasses the column type on SQLite: normalise like UtcDateTime does
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return db.UtcDateTime().process_result_value(value, None)  # type: ignore[arg-type,return-value]
