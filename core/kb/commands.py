"""Knowledge commands: what happened to suggestions, and drafting an article from a ticket."""

from __future__ import annotations

from dataclasses import dataclass

from core.kb.model import EventKind
from core.messages import Command


@dataclass(frozen=True, kw_only=True)
class RecordKbOutcome(Command):
    """Articles were suggested at intake (SUGGEST), or the customer answered: 已解决 (DEFLECTED)
    or 仍需报修 (ESCALATED). ``query`` is what the customer wrote."""

    kind: EventKind
    article_ids: tuple[str, ...] = ()
    query: str = ""


@dataclass(frozen=True, kw_only=True)
class DraftArticleFromTicket(Command):
    """存为知识: draft an article (fault, cause, fix) from a resolved ticket for review."""

    ticket_id: int
