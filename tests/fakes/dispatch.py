"""In-memory dispatch repository (offers and the roster) for MemoryUnitOfWork."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from core.tickets.offers import LOAD_STATUSES, Offer, OfferStatus, Roster


class MemoryDispatch:
    """Works on a copy of the store's offers; ``commit`` writes them back."""

    def __init__(self, store: Any, tickets: Any) -> None:
        self.store = store
        self.tickets = tickets  # the unit of work's MemoryTickets: sees uncommitted changes
        self.offers: list[Offer] = copy.deepcopy(getattr(store, "offers", []))

    def commit(self) -> None:
        self.store.offers = copy.deepcopy(self.offers)

    def _key(self, o: Offer) -> tuple[int, int, str]:
        return (o.ticket_id, o.round, o.person_id)

    async def add(self, offer: Offer) -> None:
        if any(self._key(o) == self._key(offer) for o in self.offers):
            raise ValueError(f"duplicate offer {self._key(offer)}")
        self.offers.append(copy.deepcopy(offer))

    async def save(self, offer: Offer) -> None:
        for i, o in enumerate(self.offers):
            if self._key(o) == self._key(offer):
                self.offers[i] = copy.deepcopy(offer)

    async def preload(self, ticket_ids: list[int]) -> None:
        return None  # nothing to read ahead in memory

    async def for_ticket(self, ticket_id: int) -> list[Offer]:
        return [copy.deepcopy(o) for o in self.offers if o.ticket_id == ticket_id]

    async def due(self, before: datetime, *, limit: int = 100) -> list[Offer]:
        due = [o for o in self.offers if o.status is OfferStatus.OPEN and o.offered_at <= before]
        return [copy.deepcopy(o) for o in sorted(due, key=lambda o: o.offered_at)[:limit]]

    async def roster(self) -> Roster:
        current = {**self.store.tickets, **self.tickets.seen}
        roster = Roster(staff=[p for p in self.store.people.values() if p.is_staff and p.active])
        for t in current.values():
            if t.assignee_id and t.status.value in LOAD_STATUSES:
                roster.loads[t.assignee_id] = roster.loads.get(t.assignee_id, 0) + 1
        last = roster.last_assigned
        for o in self.offers:
            if o.assigned_at and (o.person_id not in last or o.assigned_at > last[o.person_id]):
                last[o.person_id] = o.assigned_at
        return roster
