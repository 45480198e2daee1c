"""Commands (imperative) and events (past tense), and the actor who causes them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Channel(StrEnum):
    WECOM = "wecom"
    DINGTALK = "dingtalk"
    API = "api"
    WEB = "web"
    SYSTEM = "system"


@dataclass(frozen=True, kw_only=True)
class Actor:
    """Who does something, through which channel. ``person_id`` is empty for the system."""

    person_id: str
    name: str
    roles: frozenset[str] = frozenset()
    channel: Channel = Channel.SYSTEM

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles)) or "admin" in self.roles

    @classmethod
    def system(cls) -> Actor:
        return cls(person_id="system", name="系统", roles=frozenset({"admin"}))


@dataclass(frozen=True, kw_only=True)
class Command:
    """Every command names its actor; ``source`` makes a retried command a no-op."""

    actor: Actor
    source: str = ""  # idempotency key (inbox row, API request id, scheduler tick)


@dataclass(frozen=True, kw_only=True)
class Event:
    pass


@dataclass(frozen=True, kw_only=True)
class Outbound:
    """A message for the outbox. Rendering and delivery are the bot ring's job."""

    platform: str
    user_id: str = ""
    conversation_id: str = ""
    kind: str = "text"  # text | card | card_update
    text: str = ""
    card: dict | None = None  # a cards.model.Card dumped to JSON
    card_key: str = ""
    ticket_id: int | None = None
    dedupe_key: str = ""  # deterministic, so a retried command never sends twice
    coalesce: bool = True  # texts to one person falling due together may be merged
    extra: dict = field(default_factory=dict)
