"""Ticket commands: imperative, keyword-only, each with exactly one handler."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.messages import Command


@dataclass(frozen=True, kw_only=True)
class OpenTicket(Command):
    requester_id: str
    title: str
    description: str = ""
    type: str | None = None  # default: the first configured type
    priority: str = "normal"
    fields: dict[str, Any] = field(default_factory=dict)
    reply_platform: str = ""  # where to tell the requester (wecom / dingtalk); empty: nowhere
    reply_user_id: str = ""
    reply_conversation_id: str = ""


@dataclass(frozen=True, kw_only=True)
class ChangeStatus(Command):
    ticket_id: int
    status: str
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class AssignTicket(Command):
    ticket_id: int
    assignee_id: str
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class ChangePriority(Command):
    """Agents and managers: the SLA clocks are recomputed under the new priority's policy."""

    ticket_id: int
    priority: str
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class AddNote(Command):
    ticket_id: int
    text: str
    internal: bool = True


@dataclass(frozen=True, kw_only=True)
class AcceptTicket(Command):
    ticket_id: int


@dataclass(frozen=True, kw_only=True)
class DeclineTicket(Command):
    ticket_id: int
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class TransferTicket(Command):
    """转派: to another engineer, by id or name (engineer, agent, manager)."""

    ticket_id: int
    to: str
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class ReplyToCustomer(Command):
    """回复: staff to the requester; the customer's next messages are added to the ticket."""

    ticket_id: int
    text: str


@dataclass(frozen=True, kw_only=True)
class AddCustomerMessage(Command):
    """The requester adds to the ticket (an answer, the same problem again, photos)."""

    ticket_id: int
    text: str = ""
    photos: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class DispatchTicket(Command):
    """Pick an engineer by the assignment rules (or offer the ticket to the pool)."""

    ticket_id: int


@dataclass(frozen=True, kw_only=True)
class CompleteTicket(Command):
    """完工: the assigned engineer marks the job done; the customer gets the completion card."""

    ticket_id: int
    summary: str = ""
    photos: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ConfirmResolution(Command):
    """确认 / 确认完成: the requester closes the ticket; the satisfaction card follows."""

    ticket_id: int


@dataclass(frozen=True, kw_only=True)
class ReopenTicket(Command):
    """未解决: the requester says it is not fixed; back to the engineer with the reason."""

    ticket_id: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class RateTicket(Command):
    """评价: one score (1–5) per ticket, by the requester."""

    ticket_id: int
    score: int
    comment: str = ""


@dataclass(frozen=True, kw_only=True)
class ScanAssignments(Command):
    """Scheduler: dispatch again what was not accepted in time."""


@dataclass(frozen=True, kw_only=True)
class ScanAutoClose(Command):
    """Scheduler: close resolved tickets the customer did not answer in time."""


@dataclass(frozen=True, kw_only=True)
class ArriveOnSite(Command):
    """到场: the assigned engineer checks in on site (typed, or by sharing a location).

    Without ``ticket_id`` (a shared location) it is the engineer's one ticket in progress.
    """

    ticket_id: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    label: str = ""
