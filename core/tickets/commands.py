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
