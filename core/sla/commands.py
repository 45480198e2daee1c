"""SLA commands and events."""

from __future__ import annotations

from dataclasses import dataclass

from core.messages import Command, Event


@dataclass(frozen=True, kw_only=True)
class ScanSla(Command):
    """Scheduler: send the warnings and breaches that fell due (claimed under row locks)."""


@dataclass(frozen=True, kw_only=True)
class RecomputeSla(Command):
    """After a config (re)load: recompute the clocks of open tickets whose policy changed
    (one page of tickets after ``after_id``)."""

    after_id: int = 0


@dataclass(frozen=True, kw_only=True)
class AcknowledgeSla(Command):
    """知道了 on a warning or breach card: recorded on each ticket it names; the card updates."""

    card_key: str
    kind: str  # warning | breach
    items: tuple[tuple[int, str], ...]  # (ticket id, target)


@dataclass(frozen=True, kw_only=True)
class SlaWarned(Event):
    ticket_id: int
    target: str
    people: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class SlaBreached(Event):
    ticket_id: int
    target: str
    people: tuple[str, ...]
