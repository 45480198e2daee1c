"""Spare-parts commands."""

from __future__ import annotations

from dataclasses import dataclass

from core.messages import Command


@dataclass(frozen=True, kw_only=True)
class RequestParts(Command):
    """申请备件 #12 LX-01*2 滤芯*1: ``lines`` are (SKU or name, quantity) as typed."""

    ticket_id: int
    lines: tuple[tuple[str, int], ...]


@dataclass(frozen=True, kw_only=True)
class DecidePartsRequest(Command):
    """同意 / 驳回 by a stock keeper; the first decision wins. Rejection needs a reason."""

    request_id: int
    approve: bool
    reason: str = ""
