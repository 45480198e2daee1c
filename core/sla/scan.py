"""The SLA scan: warnings and breaches that fell due, claimed under row locks, sent once.

Each clock row is claimed by one transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and its
mark is set by a conditional update, so however many instances scan, each warning and each
breach happens once. Warnings for one person falling due within a minute go as one card: when a
person gets a warning now, their warnings due in the next minute are taken along.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from core import notify
from core.bus import Context
from core.people.model import Person
from core.settings import CalendarConfig
from core.sla.clocks import TARGET_ZH, Clock, left_text
from core.sla.commands import ScanSla, SlaBreached, SlaWarned
from core.sla.people import breach_people, warning_people
from core.tickets.model import HistoryEntry, Ticket
from core.tickets.texts import when

BATCH = 500
_UNASSIGNED = Ticket(
    id=0, type="", title="", requester_id="", created_at=datetime.min, updated_at=datetime.min
)
MERGE = timedelta(seconds=60)
PER_CARD = 6  # WeCom shows six label/value rows on a card
CODE = {"response": "R", "arrival": "A", "resolve": "S"}
NAME = {v: k for k, v in CODE.items()}


@dataclass(frozen=True)
class Due:
    ticket: Ticket
    clock: Clock
    people: tuple[str, ...]


def calendar_of(ctx: Context, clock: Clock) -> CalendarConfig:
    cals = ctx.config.calendars
    return next((c for c in cals if c.key == clock.calendar), cals[0])


def person_key(person_id: str) -> str:
    return person_id.replace(".", "@")


def encode_items(kind: str, items: list[tuple[int, str]]) -> str:
    return "-".join([kind[0], *(f"{tid}{CODE[target]}" for tid, target in items)])


def decode_items(arg: str) -> tuple[str, tuple[tuple[int, str], ...]]:
    """``w-12R-13S`` → ("warning", ((12, "response"), (13, "resolve"))); ValueError if malformed."""
    head, *rest = arg.split("-")
    kind = {"w": "warning", "b": "breach"}[head]
    items = tuple((int(p[:-1]), NAME[p[-1]]) for p in rest)
    if not items:
        raise ValueError("no items")
    return kind, items


def item_args(ctx: Context, ticket: Ticket, clock: Clock, now: datetime) -> dict[str, object]:
    tz = ctx.config.timezone
    return {
        "id": ticket.id,
        "title": ticket.title,
        "target": TARGET_ZH[clock.name],
        "due": when(clock.due_at, tz),
        "left": left_text(calendar_of(ctx, clock), clock, now),
    }


async def _history(ctx: Context, due: Due, action: str, now: datetime) -> None:
    entry = HistoryEntry(
        at=now,
        actor_id="system",
        actor_name="系统",
        channel="system",
        action=action,
        data={
            "target": due.clock.name,
            "due_at": due.clock.due_at.isoformat() if due.clock.due_at else None,
            "left": left_text(calendar_of(ctx, due.clock), due.clock, now),
            "to": list(due.people),
        },
    )
    await ctx.uow.sla.add_history(due.ticket.id, entry)


async def _ticket(ctx: Context, ticket_id: int) -> Ticket | None:
    return await ctx.uow.tickets.get(ticket_id)


async def _breach(
    ctx: Context, ticket: Ticket, clock: Clock, now: datetime, staff: list[Person]
) -> None:
    people = tuple(await breach_people(ctx, ticket, staff))
    due = Due(ticket, clock, people)
    await _history(ctx, due, "sla_breached", now)
    args = {"kind": "breach", "items": [item_args(ctx, ticket, clock, now)]}
    for pid in people:
        await notify.card(
            ctx,
            pid,
            builder="sla_breach",
            args={**args, "ack": encode_items("breach", [(ticket.id, clock.name)])},
            card_key=f"t{ticket.id}_slab_{CODE[clock.name]}_{person_key(pid)}",
            ticket_id=ticket.id,
        )
    ticket.events.append(SlaBreached(ticket_id=ticket.id, target=clock.name, people=people))


async def _send_warnings(ctx: Context, warned: list[Due], now: datetime) -> None:
    per_person: dict[str, list[Due]] = defaultdict(list)
    for due in warned:
        await _history(ctx, due, "sla_warned", now)
        due.ticket.events.append(
            SlaWarned(ticket_id=due.ticket.id, target=due.clock.name, people=due.people)
        )
        for pid in due.people:
            per_person[pid].append(due)
    for pid, dues in per_person.items():
        dues.sort(key=lambda d: (d.clock.due_at or now, d.ticket.id))
        for i in range(0, len(dues), PER_CARD):
            chunk = dues[i : i + PER_CARD]
            first = chunk[0]
            pairs = [(d.ticket.id, d.clock.name) for d in chunk]
            await notify.card(
                ctx,
                pid,
                builder="sla_warning",
                args={
                    "kind": "warning",
                    "items": [item_args(ctx, d.ticket, d.clock, now) for d in chunk],
                    "ack": encode_items("warning", pairs),
                },
                card_key=f"t{first.ticket.id}_slaw_{CODE[first.clock.name]}_{person_key(pid)}",
                ticket_id=first.ticket.id,
            )


async def scan_sla(cmd: ScanSla, ctx: Context) -> int:
    """One pass; returns how many clocks it claimed (the caller repeats while it is BATCH)."""
    now = ctx.clock.now()
    claimed = await ctx.uow.sla.claim(now, BATCH)
    if not claimed:
        return 0
    staff = await ctx.uow.people.staff()
    warned: list[Due] = []
    for ticket_id, clock in claimed:
        ticket = await _ticket(ctx, ticket_id)
        if ticket is None:
            continue
        if clock.due_at is not None and now >= clock.due_at:
            if await ctx.uow.sla.mark(ticket_id, clock.name, "breached_at", now):
                await _breach(ctx, ticket, clock, now, staff)
        elif clock.warn_at is not None and now >= clock.warn_at and clock.warned_at is None:
            if await ctx.uow.sla.mark(ticket_id, clock.name, "warned_at", now):
                warned.append(Due(ticket, clock, tuple(warning_people(ticket, staff))))
        else:
            await ctx.uow.sla.reschedule(ticket_id, clock.name, clock.check_at)
    if warned:
        people = {p for d in warned for p in d.people}
        agents = set(warning_people(_UNASSIGNED, staff))  # who hears of unassigned tickets
        soon = await ctx.uow.sla.claim_warnings_until(
            now, now + MERGE, BATCH, assignees=sorted(people), unassigned=bool(agents & people)
        )
        for ticket_id, clock in soon:
            ticket = await _ticket(ctx, ticket_id)
            if ticket is None:
                continue
            who = tuple(warning_people(ticket, staff))
            if people.intersection(who) and await ctx.uow.sla.mark(
                ticket_id, clock.name, "warned_at", now
            ):
                warned.append(Due(ticket, clock, who))
    await _send_warnings(ctx, warned, now)
    return len(claimed)
