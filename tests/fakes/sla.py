"""SLA clocks for the in-memory unit of work: the same answers as core/sla/repository.py."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import datetime
from typing import Any

from core.sla.clocks import Clock
from core.tickets.model import HistoryEntry


class MemorySla:
    """Works on a copy of the store's clocks; ``commit`` puts it back."""

    def __init__(self, store: Any) -> None:
        self._db = store
        self.clocks: dict[int, dict[str, Clock]] = copy.deepcopy(store.sla)
        self.history: list[tuple[int, HistoryEntry]] = []

    async def get(self, ticket_id: int) -> dict[str, Clock]:
        return {k: replace(v) for k, v in self.clocks.get(ticket_id, {}).items()}

    async def preload(self, ticket_ids: list[int]) -> None:
        return None  # nothing to read ahead in memory

    async def store(self, ticket_id: int, clocks: dict[str, Clock]) -> None:
        before = self.clocks.get(ticket_id, {})
        kept = {}
        for name, clock in clocks.items():
            old = before.get(name)
            marks = {"warned_at": old.warned_at, "breached_at": old.breached_at} if old else {}
            kept[name] = replace(clock, **marks)
        self.clocks[ticket_id] = kept

    async def claim(self, now: datetime, limit: int) -> list[tuple[int, Clock]]:
        due = [
            (tid, replace(c))
            for tid, clocks in self.clocks.items()
            for c in clocks.values()
            if c.check_at is not None and c.check_at <= now
        ]
        return sorted(due, key=lambda d: d[1].check_at or now)[:limit]

    async def claim_warnings_until(
        self,
        after: datetime,
        until: datetime,
        limit: int,
        *,
        assignees: list[str],
        unassigned: bool,
    ) -> list[tuple[int, Clock]]:
        def whose(tid: int) -> bool:
            ticket = self._db.tickets.get(tid)
            assignee = ticket.assignee_id if ticket else None
            return assignee in assignees if assignee else unassigned

        soon = [
            (tid, replace(c))
            for tid, clocks in self.clocks.items()
            for c in clocks.values()
            if c.check_at is not None
            and after < c.check_at <= until
            and c.warned_at is None
            and c.check_at == c.warn_at
            and whose(tid)
        ]
        return sorted(soon, key=lambda d: d[1].check_at or until)[:limit]

    async def mark(self, ticket_id: int, name: str, mark: str, at: datetime) -> bool:
        clock = self.clocks.get(ticket_id, {}).get(name)
        if clock is None or getattr(clock, mark) is not None or clock.breached_at is not None:
            return False
        setattr(clock, mark, at)
        return True

    async def reschedule(self, ticket_id: int, name: str, check_at: datetime | None) -> None:
        return None  # check_at is derived from the clock here

    async def stale(
        self, current: dict[tuple[str, str], str], after_id: int, limit: int
    ) -> list[int]:
        out = []
        for tid in sorted(self._db.tickets):
            t = self._db.tickets[tid]
            if tid <= after_id or t.status.value in ("closed", "cancelled"):
                continue
            response = self.clocks.get(tid, {}).get("response")
            if response is None or current.get((t.type, t.priority.value)) != response.policy:
                out.append(tid)
        return out[:limit]

    async def add_history(self, ticket_id: int, entry: HistoryEntry) -> None:
        self.history.append((ticket_id, entry))

    def commit(self) -> None:
        self._db.sla = self.clocks
        for ticket_id, entry in self.history:
            if ticket_id in self._db.tickets:
                self._db.tickets[ticket_id].history.append(entry)
        self.history = []
