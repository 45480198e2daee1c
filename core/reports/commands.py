"""Report commands."""

from __future__ import annotations

from dataclasses import dataclass

from core.messages import Command


@dataclass(frozen=True, kw_only=True)
class SendDailyDigest(Command):
    """Scheduler: the managers' daily summary card (once per day, by ``source``)."""
