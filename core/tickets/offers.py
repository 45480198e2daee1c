"""Offers: who was offered a ticket (a direct assignment or a pool card) and how it ended.

One row per person per dispatch round. Open offers are what the accept-timeout scan looks at;
closed ones tell the rules who declined or let a ticket lapse, and ``assigned_at`` tells
round robin who was given work longest ago.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, func, insert, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core import db
from core.deferred import deferring, executemany
from core.people.directory import PERSON_COLUMNS, person_from_values
from core.people.model import Person, PersonKind
from core.tickets.rules import Ranking
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
    """Who may be dispatched to, as one scan sees them: staff, open load, last assignment
    (changed through ``assigned`` and ``unassigned`` once read, which keep its ranking)."""

    staff: list[Person] = field(default_factory=list)
    loads: dict[str, int] = field(default_factory=dict)
    last_assigned: dict[str, datetime] = field(default_factory=dict)
    _ranking: Ranking | None = field(default=None, init=False, repr=False, compare=False)

    def ranking(self) -> Ranking:
        """The engineers best first (core/tickets/rules.py), sorted at the first dispatch."""
        if self._ranking is None:
            self._ranking = Ranking(self.staff, self.loads, self.last_assigned)
        return self._ranking

    def assigned(self, person_id: str, at: datetime) -> None:
        """A ticket was just assigned to the person (later picks in the same scan see it)."""
        self.loads[person_id] = self.loads.get(person_id, 0) + 1
        self.last_assigned[person_id] = at
        self._moved(person_id)

    def unassigned(self, person_id: str) -> None:
        """A ticket counted in the person's load was taken back from them."""
        left = self.loads.get(person_id, 0) - 1
        if left > 0:
            self.loads[person_id] = left
        else:
            self.loads.pop(person_id, None)
        self._moved(person_id)

    def _moved(self, person_id: str) -> None:
        if self._ranking is not None:
            load, last = self.loads.get(person_id, 0), self.last_assigned.get(person_id)
            self._ranking.moved(person_id, load, last)


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
_NAMES = _COLS.split()


def _values(offer: Offer) -> dict[str, Any]:
    values = {name: getattr(offer, name) for name in _NAMES}
    values["mode"] = offer.mode.value
    values["status"] = offer.status.value
    return values


def _from_row(row: Any) -> Offer:
    """An offer from a row of ``_SELECT``."""
    data = dict(zip(_NAMES, row, strict=True))
    data["mode"] = Mode(data["mode"])
    data["status"] = OfferStatus(data["status"])
    return Offer(**data)


_o = db.offers.c
_SELECT = select(*(_o[name] for name in _NAMES))
_OF_TICKETS = _SELECT.where(_o.ticket_id.in_(bindparam("ids", expanding=True))).order_by(
    _o.ticket_id, _o.id
)
_DUE = (
    _SELECT.where(_o.status == OfferStatus.OPEN.value, _o.offered_at <= bindparam("before"))
    .order_by(_o.offered_at, _o.id)
    .limit(bindparam("limit"))
)
_DUE_SKIP_LOCKED = _DUE.with_for_update(skip_locked=True)


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
        rows = await self._conn.execute(_OF_TICKETS, {"ids": missing})
        for ticket_id in missing:
            self._known[ticket_id] = []
        for r in rows:
            self._known[r[0]].append(_from_row(r))

    async def for_ticket(self, ticket_id: int) -> list[Offer]:
        if ticket_id in self._known:
            return list(self._known[ticket_id])
        rows = await self._conn.execute(_SELECT.where(_o.ticket_id == ticket_id).order_by(_o.id))
        return [_from_row(r) for r in rows]

    async def due(self, before: datetime, *, limit: int = 100) -> list[Offer]:
        """Open offers made at or before ``before``; locked (others skip them) on PostgreSQL."""
        pg = self._conn.dialect.name == "postgresql"
        rows = await self._conn.execute(
            _DUE_SKIP_LOCKED if pg else _DUE, {"before": before, "limit": limit}
        )
        return [_from_row(r) for r in rows]

    async def roster(self) -> Roster:
        """Active staff with their identities, open load and last assignment, in one
        statement (``_ROSTER``)."""
        roster = Roster()
        person: Person | None = None
        statement = _ROSTER[self._conn.dialect.name == "postgresql"]
        for *values, load, last, platform, user_id in await self._conn.execute(statement):
            if person is None or person.id != values[0]:  # a person's rows come together
                person = person_from_values(values, {})
                roster.staff.append(person)
                if load:
                    roster.loads[person.id] = int(load)
                if last is not None:
                    roster.last_assigned[person.id] = _aware(last)
            if user_id:
                person.identities[platform] = user_id
        return roster


def _roster_statement(pg: bool) -> Any:
    """Active staff, a row per identity, with the open load (tickets by status and assignee)
    and the last assignment (a correlated lookup per person of offers by person and
    assigned_at), never a pass over the history. The open load is a correlated count per
    person on SQLite; on PostgreSQL one grouped read of the open tickets' index, joined (about
    0.3 ms less at 100 staff; SQLite would scan the whole table for it). Built once: every
    dispatch reads it. Its constants are written into the SQL (no parameter: PostgreSQL plans
    the prepared statement once, not at every execution, and nothing is rendered per
    execution)."""
    p, t, o, i = db.people, db.tickets.c, db.offers.c, db.identities.c
    open_ = t.status.in_([_sql_text(s) for s in LOAD_STATUSES])
    last = select(func.max(o.assigned_at)).where(o.person_id == p.c.id).scalar_subquery()
    people = p.outerjoin(db.identities, i.person_id == p.c.id)
    if pg:
        loads = (
            select(t.assignee_id, func.count().label("n"))
            .where(open_)
            .group_by(t.assignee_id)
            .subquery("loads")
        )
        load: Any = loads.c.n
        people = p.outerjoin(loads, loads.c.assignee_id == p.c.id).outerjoin(
            db.identities, i.person_id == p.c.id
        )
    else:
        load = select(func.count()).where(open_, t.assignee_id == p.c.id).scalar_subquery()
    return (
        select(*PERSON_COLUMNS, load, last, i.platform, i.user_id)
        .select_from(people)
        .where(p.c.kind == _sql_text(PersonKind.STAFF.value), p.c.active.is_(True))
        .order_by(p.c.id)
    )


def _sql_text(value: str) -> Any:
    """A constant string written into the SQL (our own identifiers: nothing to escape)."""
    assert value.isidentifier(), value
    return literal_column(f"'{value}'")


_ROSTER = (_roster_statement(pg=False), _roster_statement(pg=True))  # by "is PostgreSQL"


def _aware(value: Any) -> datetime:
    """An aware UTC instant, as UtcDateTime gives it (func.max bypasses the column type on
    SQLite: a text there)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
