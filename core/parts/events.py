"""Parts events: past tense, raised on the ticket so they run in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass

from core.messages import Event


@dataclass(frozen=True, kw_only=True)
class PartsRequested(Event):
    ticket_id: int
    request_id: int
    keepers: tuple[str, ...]
    prefer: str = ""  # the platform the request came from, to answer there


@dataclass(frozen=True, kw_only=True)
class PartsDecided(Event):
    ticket_id: int
    request_id: int
    approved: bool
    decided_by: str
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class StockFellBelowMinimum(Event):
    ticket_id: int
    request_id: int
    sku: str
