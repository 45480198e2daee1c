"""Ticket events: past tense; event handlers react to them in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass

from core.messages import Event


@dataclass(frozen=True, kw_only=True)
class TicketOpened(Event):
    ticket_id: int
    reply_platform: str = ""
    reply_user_id: str = ""
    reply_conversation_id: str = ""


@dataclass(frozen=True, kw_only=True)
class TicketStatusChanged(Event):
    ticket_id: int
    previous: str
    current: str


@dataclass(frozen=True, kw_only=True)
class TicketAssigned(Event):
    ticket_id: int
    assignee_id: str
    previous_assignee_id: str | None


@dataclass(frozen=True, kw_only=True)
class NoteAdded(Event):
    ticket_id: int
    internal: bool


@dataclass(frozen=True, kw_only=True)
class TicketAccepted(Event):
    ticket_id: int
    engineer_id: str


@dataclass(frozen=True, kw_only=True)
class TicketDeclined(Event):
    ticket_id: int
    engineer_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class TicketResolved(Event):
    """完工: the customer gets the completion card (round = how many times resolved)."""

    ticket_id: int
    engineer_id: str
    round: int


@dataclass(frozen=True, kw_only=True)
class ResolutionConfirmed(Event):
    """Closed by the requester (确认完成) or by the system (``auto``) after the waiting days."""

    ticket_id: int
    round: int
    auto: bool = False


@dataclass(frozen=True, kw_only=True)
class TicketReopened(Event):
    """未解决: back to the engineer with the requester's reason."""

    ticket_id: int
    round: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class TicketRated(Event):
    ticket_id: int
    score: int
    comment: str


@dataclass(frozen=True, kw_only=True)
class EngineerArrived(Event):
    """到场: the first check-in on site meets the arrival target (later ones are visits)."""

    ticket_id: int
    engineer_id: str
    first: bool
