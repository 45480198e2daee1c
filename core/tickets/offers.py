"""Offers: who was offered a ticket (a direct assignment or a pool card) and how it ended.

One row per person per dispatch round. Open offers are what the accept-timeout scan looks at;
closed ones tell the rules who declined or let a ticket lapse, and ``assigned_at`` tells
round robin who was given work longest ago.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from itertools import groupby
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core import db
from core.deferred import deferring, executemany
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

    def unassigned(self, person_id: str) -> None:
        """A ticket counted in the person's load was taken back from them."""
        left = self.loads.get(person_id, 0) - 1
        if left > 0:
            self.loads[person_id] = left
        else:
            self.loads.pop(person_id, None)


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


_ADD = insert(db.offers)
_SAVE = update(db.offers).where(
    db.offers.c.ticket_id == bindparam("k_ticket"),
    db.offers.c.round == bindparam("k_round"),
    db.offers.c.person_id == bindparam("k_person"),
)


def _key(offer: Offer) -> tuple[int, int, str]:
    return offer.ticket_id, offer.round, offer.person_id


class SqlDispatchRepository:
    """Offers, and the roster (engineers' open load and last assignment times)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._known: dict[int, list[Offer]] = {}  # offers of tickets read with ``preload``

    async def add(self, offer: Offer) -> None:
        if offer.ticket_id in self._known:
            self._known[offer.ticket_id].append(offer)
        writes = deferring(self._conn)
        if writes is not None:
            writes.add("offers", "add", executemany(_ADD), _values(offer))
            return
        await self._conn.execute(_ADD, _values(offer))

    async def save(self, offer: Offer) -> None:
        known = self._known.get(offer.ticket_id, [])
        for i, other in enumerate(known):
            if _key(other) == _key(offer):
                known[i] = offer
        o = offer
        row = {**_values(o), "k_ticket": o.ticket_id, "k_round": o.round, "k_person": o.person_id}
        writes = deferring(self._conn)
        if writes is not None:
            writes.add("offers", "save", executemany(_SAVE), row)
            return
        await self._conn.execute(_SAVE, row)

    async def preload(self, ticket_ids: list[int]) -> None:
        """Read the offers of many tickets in one statement; ``for_ticket`` then answers from
        memory for them (kept current by ``add`` and ``save``)."""
        missing = [i for i in dict.fromkeys(ticket_ids) if i not in self._known]
        if not missing:
            return
        o = db.offers.c
        rows = await self._conn.execute(
            select(db.offers).where(o.ticket_id.in_(missing)).order_by(o.ticket_id, o.id)
        )
        for ticket_id in missing:
            self._known[ticket_id] = []
        for r in rows:
            self._known[r.ticket_id].append(_from_row(r))

    async def for_ticket(self, ticket_id: int) -> list[Offer]:
        if ticket_id in self._known:
            return list(self._known[ticket_id])
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
        """Active staff with their identities, open load and last assignment, in one
        statement: two correlated index lookups per person (tickets by status and assignee,
        offers by person and assigned_at), never a pass over the history."""
        p, t, o, i = db.people, db.tickets.c, db.offers.c, db.identities.c
        load = (
            select(func.count())
            .where(t.status.in_(LOAD_STATUSES), t.assignee_id == p.c.id)
            .scalar_subquery()
        )
        last = select(func.max(o.assigned_at)).where(o.person_id == p.c.id).scalar_subquery()
        rows = await self._conn.execute(
            select(
                p,
                load.label("open_load"),
                last.label("last_assigned"),
                i.platform.label("id_platform"),
                i.user_id.label("id_user"),
            )
            .select_from(p.outerjoin(db.identities, i.person_id == p.c.id))
            .where(p.c.kind == PersonKind.STAFF.value, p.c.active.is_(True))
            .order_by(p.c.id)
        )
        roster = Roster()
        for _, group in groupby(rows, key=lambda r: r.id):
            mine = list(group)
            row = mine[0]
            person = person_from_row(row, {r.id_platform: r.id_user for r in mine if r.id_user})
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
