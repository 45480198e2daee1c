"""Assignment rules: who may get a ticket, best first. Pure functions, no I/O.

1. active engineers on duty;
2. with one of the ticket type's skills (a type without skills: anyone);
3. not among those who declined the ticket or let it lapse (``excluded``);
4. below their ``max_open`` cap of assigned + accepted tickets;
5. in the ticket's region when it has one, else (nobody there) any region;
6. least loaded first, then the one assigned longest ago (never assigned: first), then by id.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from core.people.model import Person
from core.settings import DeskConfig
from core.tickets.model import Ticket

_NEVER = datetime.min.replace(tzinfo=UTC)


def ticket_region(ticket: Ticket, config: DeskConfig, known_regions: Iterable[str] = ()) -> str:
    """The region a ticket belongs to: its asset's region (``device`` or any asset field), else
    a ``region`` field, else a known region named in its ``address`` field; "" when none."""
    asset_ids = {a.id: a for a in config.assets}
    for value in ticket.fields.values():
        asset = asset_ids.get(value) if isinstance(value, str) else None
        if asset is not None and asset.region:
            return asset.region
    region = ticket.fields.get("region")
    if isinstance(region, str) and region.strip():
        return region.strip()
    address = ticket.fields.get("address")
    if isinstance(address, str):
        for known in sorted({r for r in known_regions if r}, key=len, reverse=True):
            if known in address:
                return known
    return ""


def candidates(
    people: Iterable[Person],
    *,
    skills: Iterable[str],
    region: str,
    excluded: Iterable[str] = (),
    loads: Mapping[str, int],
    last_assigned: Mapping[str, datetime],
) -> list[Person]:
    """The engineers who may take the ticket, best first (see the module doc)."""
    wanted = set(skills)
    skip = set(excluded)
    ranked = []  # (load, last assigned, id, position, person): the sort key, then who
    for i, p in enumerate(people):
        load = loads.get(p.id, 0)
        if (
            load < p.max_open
            and p.id not in skip
            and p.active
            and p.on_duty
            and "engineer" in p.roles
            and (not wanted or not wanted.isdisjoint(p.skills))
        ):
            ranked.append((load, last_assigned.get(p.id, _NEVER), p.id, i, p))
    if region:
        local = [r for r in ranked if r[4].region == region]
        ranked = local or ranked
    ranked.sort()
    return [r[4] for r in ranked]


class Ranking:
    """The active engineers on duty of a roster in the order ``candidates`` sorts them, kept in
    order as their loads change (``moved``): a scan dispatching many tickets sorts its roster
    once instead of once per ticket, and a direct assignment stops at the first who fits."""

    def __init__(
        self,
        people: Iterable[Person],
        loads: Mapping[str, int],
        last_assigned: Mapping[str, datetime],
    ) -> None:
        # (load, last assigned, id, position, person): the sort key, then who; ids are unique
        self._keys: dict[str, tuple[int, datetime, str, int, Person]] = {}
        for i, p in enumerate(people):
            if p.active and p.on_duty and "engineer" in p.roles:
                self._keys[p.id] = (loads.get(p.id, 0), last_assigned.get(p.id, _NEVER), p.id, i, p)
        self._order = sorted(self._keys.values())

    def moved(self, person_id: str, load: int, last_assigned: datetime | None) -> None:
        """The person's load or last assignment changed."""
        old = self._keys.get(person_id)
        if old is None:
            return
        del self._order[bisect_left(self._order, old)]
        new = (load, last_assigned or _NEVER, person_id, old[3], old[4])
        insort(self._order, new)
        self._keys[person_id] = new

    def candidates(
        self,
        *,
        skills: Iterable[str],
        region: str,
        excluded: Iterable[str] = (),
        first: bool = False,
    ) -> list[Person]:
        """What ``candidates`` answers for this roster (only its first with ``first``)."""
        wanted = set(skills)
        skip = set(excluded)
        local: list[Person] = []  # in the region
        others: list[Person] = []  # not in it (everyone without a region)
        for load, _, pid, _, p in self._order:
            if load >= p.max_open or pid in skip or (wanted and wanted.isdisjoint(p.skills)):
                continue
            if region and p.region == region:
                if first:
                    return [p]
                local.append(p)
            elif not region and first:
                return [p]
            elif not (first and others):
                others.append(p)
        return local or others
