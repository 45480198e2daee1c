"""An in-memory unit of work for unit tests of the core through the bus."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any, Self

from core.assets.model import Asset, asset_key
from core.errors import Conflict
from core.messages import Event, Outbound
from core.people.model import Person
from core.tickets.model import Ticket
from core.tickets.repository import TicketFilter
from core.tickets.workflow import Status
from tests.fakes.dispatch import MemoryDispatch
from tests.fakes.sla import MemorySla


class MemoryStore:
    """What survives between units of work: the "database"."""

    def __init__(self) -> None:
        self.tickets: dict[int, Ticket] = {}
        self.people: dict[str, Person] = {}
        self.outbox: list[Outbound] = []
        self.processed: set[str] = set()
        self.counter = 0
        self.assets: dict[str, Asset] = {}  # by upper-cased id
        self.signoffs: dict[tuple[int, int], str] = {}
        self.settlements: dict[int, Any] = {}
        self.sla: dict[int, dict[str, Any]] = {}  # ticket id -> target -> Clock


class MemoryAssets:
    """The asset registry's lookups used by ticket handlers."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    async def get(self, asset_id: str) -> Asset | None:
        return self.store.assets.get(asset_key(asset_id))

    async def get_many(self, asset_ids: list[str]) -> None:
        return None  # nothing to read ahead in memory

    async def find_in_text(self, text: str) -> Asset | None:
        hits = [a for key, a in self.store.assets.items() if key in (text or "").upper()]
        return max(hits, key=lambda a: len(a.id)) if hits else None


class MemoryTickets:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.seen: dict[int, Ticket] = {}
        self.saved: dict[int, Ticket] = {}
        self.loaded: dict[int, int] = {}  # the stored version each ticket was read at
        self.counter = store.counter

    async def next_id(self) -> int:
        self.counter += 1
        return self.counter

    async def add(self, ticket: Ticket) -> None:
        ticket.new_history.clear()
        self.seen[ticket.id] = ticket
        self.saved[ticket.id] = ticket

    async def get(self, ticket_id: int, *, with_history: bool = True) -> Ticket | None:
        if ticket_id in self.seen:
            return self.seen[ticket_id]
        stored = self.store.tickets.get(ticket_id)
        if stored is None:
            return None
        ticket = copy.deepcopy(stored)
        self.seen[ticket_id] = ticket
        self.loaded[ticket_id] = stored.version
        return ticket

    async def get_many(self, ids: list[int], *, lock: bool = False) -> list[Ticket]:
        found = [await self.get(i) for i in ids]
        return [t for t in found if t is not None]

    async def save(self, ticket: Ticket) -> None:
        stored = self.store.tickets.get(ticket.id)
        # like the database: saving twice in one unit of work is fine; a change by another is not
        expected = self.loaded.get(ticket.id, ticket.version)
        if stored is not None and stored.version != expected:
            raise Conflict(f"工单 {ticket.ref} 刚被其他人修改，请重试")
        ticket.version += 1
        ticket.new_history.clear()
        self.saved[ticket.id] = ticket

    async def resolved_before(self, cutoff: datetime, *, limit: int) -> list[int]:
        due = [
            t
            for t in self.store.tickets.values()
            if t.status is Status.RESOLVED and t.resolved_at is not None and t.resolved_at <= cutoff
        ]
        return [t.id for t in sorted(due, key=lambda t: (t.resolved_at, t.id))][:limit]

    def _matching(self, flt: TicketFilter) -> list[Ticket]:
        return [
            t
            for t in sorted(self.store.tickets.values(), key=lambda t: -t.id)
            if (not flt.status or t.status.value in flt.status)
            and (not flt.assignee_id or t.assignee_id == flt.assignee_id)
            and (not flt.requester_id or t.requester_id == flt.requester_id)
            and (not flt.type or t.type == flt.type)
            and (not flt.asset_id or t.asset_id == flt.asset_id)
        ]

    async def page(self, flt: TicketFilter) -> list[Ticket]:
        items = [t for t in self._matching(flt) if flt.before_id is None or t.id < flt.before_id]
        return items[flt.offset : flt.offset + flt.limit]

    async def count(self, flt: TicketFilter) -> int:
        return len(self._matching(flt))

    async def list(self, flt: TicketFilter) -> tuple[list[Ticket], int]:
        return await self.page(flt), await self.count(flt)


class MemoryPeople:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    async def get(self, person_id: str) -> Person | None:
        return self.store.people.get(person_id)

    async def get_many(self, ids: list[str]) -> None:
        return None  # nothing to read ahead in memory

    def remember(self, people: list[Person]) -> None:
        return None

    async def by_identity(self, platform: str, user_id: str) -> Person | None:
        return next(
            (p for p in self.store.people.values() if p.identities.get(platform) == user_id), None
        )

    async def find(self, text: str) -> Person | None:
        return self.store.people.get(text) or next(
            (p for p in self.store.people.values() if p.name == text), None
        )

    async def staff(self) -> list[Person]:
        return [p for p in self.store.people.values() if p.is_staff and p.active]

    async def upsert(self, person: Person, *, at: datetime) -> None:
        self.store.people[person.id] = person


class MemorySignoffs:
    """Signing links (tokens by ticket and round); signatures are tested on the real database."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    async def issue(self, ticket_id: int, round_: int, *, at: datetime) -> str:
        return self.store.signoffs.setdefault((ticket_id, round_), f"sign-{ticket_id}-{round_}")


class MemorySettlements:
    """Settlements by ticket; no parts are used in the memory store."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    async def parts_used(self, ticket_id: int) -> list[Any]:
        return []

    async def save(self, ticket_id: int, settlement: Any, **info: Any) -> None:
        self.store.settlements[ticket_id] = (settlement, info)


class MemoryUnitOfWork:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.committed = False

    async def __aenter__(self) -> Self:
        self.tickets = MemoryTickets(self.store)
        self.people = MemoryPeople(self.store)
        self.dispatch = MemoryDispatch(self.store, self.tickets)
        self.assets = MemoryAssets(self.store)
        self.signoffs = MemorySignoffs(self.store)
        self.settlements = MemorySettlements(self.store)
        self.sla = MemorySla(self.store)
        self._outbox: list[Outbound] = []
        self._processed: set[str] = set()
        self.committed = False
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None  # uncommitted work is simply dropped

    async def commit(self) -> None:
        for ticket in self.tickets.seen.values():
            self.store.tickets[ticket.id] = copy.deepcopy(ticket)
        self.store.counter = self.tickets.counter
        self.dispatch.commit()
        self.sla.commit()
        keys = {m.dedupe_key for m in self.store.outbox}
        self.store.outbox.extend(
            m for m in self._outbox if not m.dedupe_key or m.dedupe_key not in keys
        )
        self.store.processed |= self._processed
        self.committed = True

    def defer_writes(self) -> None:
        return None  # memory writes cost nothing

    async def rollback(self) -> None:
        self.tickets.seen.clear()
        self._outbox.clear()

    async def add_outbound(
        self, msg: Outbound, *, at: datetime, due_at: datetime | None = None
    ) -> None:
        self._outbox.append(msg)

    async def mark_processed(self, source: str, *, at: datetime) -> bool:
        if source in self.store.processed or source in self._processed:
            return False
        self._processed.add(source)
        return True

    def collect_events(self) -> list[Event]:
        events: list[Event] = []
        for ticket in self.tickets.seen.values():
            events.extend(ticket.events)
            ticket.events.clear()
        return events
