"""What the chat grammar decides: commands, replies, read-only queries and dialog state."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot import dialogs
from core.messages import Command

STAFF_ROLES = ("agent", "engineer", "manager", "stock_keeper")


class _Keep:
    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()


@dataclass(frozen=True)
class Query:
    """A read-only request answered by the worker from the database."""

    name: str  # my_tickets | show | summary | asset | kb
    ticket_id: int | None = None
    period: str = ""
    text: str = ""  # asset: the number asked for; kb: the keywords


@dataclass(frozen=True)
class OpenFact:
    """One of the sender's own open tickets, for the same-device question."""

    id: int
    device: str
    staff_replied_at: datetime | None = None  # the last 回复 to the customer


@dataclass(frozen=True)
class Situation:
    now: datetime
    dialog: dict[str, Any] | None = None
    open_tickets: tuple[OpenFact, ...] = ()
    suggestions: tuple[dict[str, Any], ...] = ()  # articles matching a new report (kb_chat)
    key: str = ""  # unique to this inbound item: names the cards a decision sends


@dataclass(frozen=True)
class OutCard:
    """A card the decision sends to the sender (or, with ``update``, a new state of one)."""

    builder: str
    args: dict[str, Any]
    key: str
    status: str = ""
    update: bool = False


@dataclass
class Decision:
    commands: list[Command] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    queries: list[Query] = field(default_factory=list)
    cards: list[OutCard] = field(default_factory=list)
    dialog: Any = KEEP  # KEEP, None (clear) or the new state
    # Before asking for a reason: the same command without one. Refused for the missing
    # reason, the question stands; refused for anything else (already decided, not yours),
    # that refusal is the answer and nothing is asked.
    precheck: Command | None = None


def with_expiry(state: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {**state, "expires_at": (now + dialogs.DIALOG_TTL).isoformat()}
