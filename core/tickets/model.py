"""The Ticket aggregate. It records every change in its history and announces events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from core.messages import Actor, Event
from core.tickets.workflow import Status, check_transition


class Priority(StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


PRIORITY_ZH = {
    Priority.URGENT: "紧急",
    Priority.HIGH: "高",
    Priority.NORMAL: "普通",
    Priority.LOW: "低",
}


@dataclass(frozen=True, kw_only=True)
class HistoryEntry:
    at: datetime
    actor_id: str
    actor_name: str
    channel: str
    action: str  # opened, status_changed, assigned, note, field_changed, ...
    data: dict[str, Any] = field(default_factory=dict)


def ref(number: int) -> str:
    return f"#{number}"


@dataclass(kw_only=True)
class Ticket:
    id: int
    type: str
    title: str
    description: str = ""
    priority: Priority = Priority.NORMAL
    status: Status = Status.NEW
    requester_id: str
    assignee_id: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    channel: str = "api"
    created_at: datetime
    updated_at: datetime
    first_response_at: datetime | None = None
    arrived_at: datetime | None = None  # the engineer's first check-in on site (到场)
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    response_due_at: datetime | None = None
    resolve_due_at: datetime | None = None
    rating: int | None = None
    rating_comment: str = ""
    parts_cost: float = 0.0
    decline_count: int = 0
    asset_id: str | None = None  # the registered machine (core/assets/)
    version: int = 0
    history: list[HistoryEntry] = field(default_factory=list)
    new_history: list[HistoryEntry] = field(default_factory=list, repr=False)
    events: list[Event] = field(default_factory=list, repr=False)

    @property
    def ref(self) -> str:
        return ref(self.id)

    def record(self, actor: Actor, at: datetime, action: str, **data: Any) -> HistoryEntry:
        entry = HistoryEntry(
            at=at,
            actor_id=actor.person_id,
            actor_name=actor.name,
            channel=actor.channel.value,
            action=action,
            data=data,
        )
        self.history.append(entry)
        self.new_history.append(entry)
        self.updated_at = at
        return entry

    def move_to(self, target: Status, *, actor: Actor, at: datetime, **data: Any) -> Status:
        """Change status through the workflow table; returns the previous status."""
        check_transition(self.ref, self.status, target)
        previous = self.status
        self.status = target
        if target is Status.RESOLVED:
            self.resolved_at = at
        elif target is Status.CLOSED:
            self.closed_at = at
        elif previous is Status.RESOLVED:
            self.resolved_at = None
        self.record(
            actor, at, "status_changed", **{"from": previous.value, "to": target.value}, **data
        )
        return previous

    def mark_first_response(self, at: datetime) -> None:
        if self.first_response_at is None:
            self.first_response_at = at

    def mark_arrived(self, at: datetime) -> None:
        if self.arrived_at is None:
            self.arrived_at = at
