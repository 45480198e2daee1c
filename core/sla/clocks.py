"""SLA clocks: from a ticket's facts (creation, history, first response, arrival, resolution)
and its policy to due and warn instants. Pure functions, no I/O.

Every clock is recomputed from the facts, never nudged: a change of priority, type, policy or
calendar gives the same answer as if it had been so from the start (the clock starts at the
ticket's creation), and a pause is the working time between entering and leaving a paused
status, taken from the history. Only ``warned_at`` / ``breached_at`` are kept from before: a
clock warned once is not warned again.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from core.settings import CalendarConfig, DeskConfig, SlaTargets
from core.sla.calendar import DATA_VERSION, WorkingTime, working_time
from core.tickets.model import HistoryEntry, Priority, Ticket
from core.tickets.workflow import Status

TARGETS = ("response", "arrival", "resolve")
TARGET_ZH = {"response": "响应", "arrival": "到场", "resolve": "解决"}
DEFAULT_SLA = {  # response, resolve (working minutes) when a type names no policy
    Priority.URGENT: (30, 240),
    Priority.HIGH: (60, 480),
    Priority.NORMAL: (120, 960),
    Priority.LOW: (480, 2880),
}
_ENDED = (Status.CLOSED, Status.CANCELLED)


@dataclass(frozen=True)
class Pause:
    start: datetime
    end: datetime | None  # None: still paused
    status: str


@dataclass
class Clock:
    name: str  # response | arrival | resolve
    calendar: str
    minutes: int
    warn_seconds: int
    started_at: datetime
    due_at: datetime | None  # None while paused
    warn_at: datetime | None
    met_at: datetime | None = None
    stopped: bool = False  # the ticket ended before the target was met: nothing more to watch
    pauses: tuple[Pause, ...] = ()
    policy: str = ""  # fingerprint of the policy and calendar it was computed with
    warned_at: datetime | None = None
    breached_at: datetime | None = None

    @property
    def paused(self) -> bool:
        return self.met_at is None and bool(self.pauses) and self.pauses[-1].end is None

    @property
    def check_at(self) -> datetime | None:
        """When the scan must next look at this clock (None: never again)."""
        if self.met_at or self.stopped or self.due_at is None or self.breached_at:
            return None
        if self.warned_at is None and self.warn_at is not None and self.warn_at < self.due_at:
            return self.warn_at
        return self.due_at

    def met(self, now: datetime) -> bool | None:
        """True met in time, False missed (or already late), None still running or moot."""
        if self.met_at is not None:
            return self.due_at is None or self.met_at <= self.due_at
        if self.breached_at is not None or (self.due_at is not None and now > self.due_at):
            return False
        return None


def policy_for(config: DeskConfig, ticket_type: str, priority: Priority) -> SlaTargets:
    typ = config.ticket_type(ticket_type)
    if typ is not None and priority.value in typ.sla:
        return typ.sla[priority.value]  # type: ignore[index]
    return _default_policy(config.calendars[0].key, priority)


@lru_cache(maxsize=64)
def _default_policy(calendar: str, priority: Priority) -> SlaTargets:
    """The policy of a type naming none for this priority (built once; nobody changes it)."""
    response, resolve = DEFAULT_SLA[priority]
    return SlaTargets(calendar=calendar, response_minutes=response, resolve_minutes=resolve)


def fingerprint(policy: SlaTargets, calendar: CalendarConfig) -> str:
    text = policy.model_dump_json() + calendar.model_dump_json() + DATA_VERSION
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def pauses_from(history: Iterable[HistoryEntry], statuses: Iterable[str]) -> list[Pause]:
    """Each stay in one of ``statuses``, from the status changes in the history."""
    paused = set(statuses)
    out: list[Pause] = []
    current: Pause | None = None
    for entry in history:
        if entry.action != "status_changed":
            continue
        to = str(entry.data.get("to", ""))
        if current is not None and to != current.status:
            out.append(Pause(current.start, entry.at, current.status))
            current = None
        if current is None and to in paused:
            current = Pause(entry.at, None, to)
    if current is not None:
        out.append(current)
    return out


def reach(
    cal: CalendarConfig, start: datetime, amount: timedelta, pauses: Iterable[Pause]
) -> datetime | None:
    """The instant the running (unpaused) working time since ``start`` reaches ``amount``;
    None when a pause that has not ended comes first."""
    return _reach(working_time(cal), start, amount, pauses)


def _reach(
    hours: WorkingTime, start: datetime, amount: timedelta, pauses: Iterable[Pause]
) -> datetime | None:
    cursor, remaining = start, amount
    for pause in sorted(pauses, key=lambda p: p.start):
        if pause.end is not None and pause.end <= cursor:
            continue
        if pause.start > cursor:
            available = hours.between(cursor, pause.start)
            if remaining <= available:
                return hours.after(cursor, remaining)
            remaining -= available
        if pause.end is None:
            return None
        cursor = max(cursor, pause.end)
    return hours.after(cursor, remaining)


def used(cal: CalendarConfig, clock: Clock, now: datetime) -> timedelta:
    """Running working time spent on the clock until ``now`` (pauses left out)."""
    return _used(working_time(cal), clock, now)


def _used(hours: WorkingTime, clock: Clock, now: datetime) -> timedelta:
    end = min(now, clock.met_at) if clock.met_at else now
    total = hours.between(clock.started_at, end)
    for pause in clock.pauses:
        total -= hours.between(max(pause.start, clock.started_at), min(pause.end or end, end))
    return max(total, timedelta(0))


def left(cal: CalendarConfig, clock: Clock, now: datetime) -> timedelta:
    """Working time left until the due time (negative when late); a paused clock keeps its rest."""
    hours = working_time(cal)
    if clock.due_at is not None and not clock.paused:
        if now >= clock.due_at:
            return -hours.between(clock.due_at, now)
        return hours.between(now, clock.due_at)
    return timedelta(minutes=clock.minutes) - _used(hours, clock, now)


def _clock(
    name: str,
    minutes: int,
    policy: SlaTargets,
    cal: CalendarConfig,
    ticket: Ticket,
    met_at: datetime | None,
    pauses: list[Pause],
    stamp: str,
) -> Clock:
    warn_seconds = max(1, minutes * 60 * policy.warn_percent // 100)
    start = ticket.created_at
    hours = working_time(cal)
    due = _reach(hours, start, timedelta(minutes=minutes), pauses)
    warn = _reach(hours, start, timedelta(seconds=warn_seconds), pauses)
    return Clock(
        name=name,
        calendar=cal.key,
        minutes=minutes,
        warn_seconds=warn_seconds,
        started_at=start,
        due_at=due,
        warn_at=warn,
        met_at=met_at,
        stopped=met_at is None and ticket.status in _ENDED,
        pauses=tuple(pauses),
        policy=stamp,
    )


def _policy(ticket: Ticket, config: DeskConfig) -> tuple[SlaTargets, CalendarConfig]:
    policy = policy_for(config, ticket.type, ticket.priority)
    cal = next((c for c in config.calendars if c.key == policy.calendar), config.calendars[0])
    return policy, cal


def response_clock(ticket: Ticket, config: DeskConfig) -> tuple[Clock, CalendarConfig]:
    """The response clock alone, as :func:`compute` has it (without the policy's fingerprint),
    and its calendar: what an assignment card shows."""
    policy, cal = _policy(ticket, config)
    minutes, met = policy.response_minutes, ticket.first_response_at
    return _clock("response", minutes, policy, cal, ticket, met, [], ""), cal


def compute(ticket: Ticket, config: DeskConfig) -> dict[str, Clock]:
    """The ticket's clocks under its current policy (warned/breached marks not included)."""
    policy, cal = _policy(ticket, config)
    stamp = fingerprint(policy, cal)
    clocks = {
        "response": _clock(
            "response",
            policy.response_minutes,
            policy,
            cal,
            ticket,
            ticket.first_response_at,
            [],
            stamp,
        )
    }
    if policy.arrival_minutes:
        arrival_met = ticket.arrived_at
        clocks["arrival"] = _clock(
            "arrival", policy.arrival_minutes, policy, cal, ticket, arrival_met, [], stamp
        )
        if arrival_met is None and ticket.status is Status.RESOLVED:
            clocks["arrival"].stopped = True  # fixed without a visit: nothing to arrive for
    # waiting for the customer's confirmation after 完工 is no resolution time if reopened
    held = [*policy.pause_on, Status.RESOLVED.value]
    resolved = ticket.resolved_at if ticket.status in (Status.RESOLVED, Status.CLOSED) else None
    clocks["resolve"] = _clock(
        "resolve",
        policy.resolve_minutes,
        policy,
        cal,
        ticket,
        resolved,
        [
            p
            for p in pauses_from(ticket.history, held)
            if p.status != Status.RESOLVED.value or p.end
        ],
        stamp,
    )
    return clocks


def humanize(amount: timedelta) -> str:
    """``1小时20分`` (whole minutes, rounded up while time is left)."""
    minutes = math.ceil(abs(amount).total_seconds() / 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days}天")
    if hours:
        parts.append(f"{hours}小时")
    if mins or not parts:
        parts.append(f"{mins}分")
    return "".join(parts)


def left_text(cal: CalendarConfig, clock: Clock, now: datetime) -> str:
    """What a person reads: 剩余 1小时20分（工作时间） / 已超时 35分（工作时间） / 已暂停."""
    if clock.met_at is not None:
        return "已达成" if clock.met(now) else "已完成（超时）"
    if clock.stopped:
        return "已停止"
    amount = left(cal, clock, now)
    if amount < timedelta(0) or (
        clock.due_at is not None and now >= clock.due_at and not clock.paused
    ):
        return f"已超时 {humanize(amount)}（工作时间）"
    text = f"剩余 {humanize(amount)}（工作时间）"
    return f"已暂停，{text}" if clock.paused else text
