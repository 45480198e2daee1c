"""Assignment rules: who may get a ticket, best first. Pure functions, no I/O.

1. active engineers on duty;
2. with one of the ticket type's skills (a type without skills: anyone);
3. not among those who declined the ticket or let it lapse (``excluded``);
4. below their ``max_open`` cap of assigned + accepted tickets;
5. in the ticket's region when it has one, else (nobody there) any region;
6. least loaded first, then the one assigned longest ago (never assigned: first), then by id.
"""

from __future__ import annotations

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
