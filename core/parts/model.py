"""Spare parts: the catalogue, requisitions, and turning typed names into catalogue lines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

MAX_QTY = 9999


class RequestStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True, kw_only=True)
class Part:
    sku: str
    name: str
    stock: int
    unit_cost: float
    min_stock: int = 0
    unit: str = "个"

    @property
    def label(self) -> str:
        return f"{self.sku} {self.name}"


@dataclass(frozen=True, kw_only=True)
class PartLine:
    sku: str
    name: str
    qty: int
    unit_cost: float

    @property
    def cost(self) -> float:
        return self.qty * self.unit_cost

    def dump(self) -> dict[str, Any]:
        return {"sku": self.sku, "name": self.name, "qty": self.qty, "unit_cost": self.unit_cost}

    @classmethod
    def load(cls, data: dict[str, Any]) -> PartLine:
        return cls(
            sku=str(data["sku"]),
            name=str(data["name"]),
            qty=int(data["qty"]),
            unit_cost=float(data["unit_cost"]),
        )


@dataclass(frozen=True, kw_only=True)
class PartsRequest:
    id: int
    ticket_id: int
    requested_by: str
    lines: tuple[PartLine, ...]
    status: RequestStatus
    cost: float
    created_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str = ""


def total_cost(lines: tuple[PartLine, ...] | list[PartLine]) -> float:
    return round(sum(line.cost for line in lines), 2)


@dataclass(frozen=True)
class Unresolved:
    """A typed token that names no part (``options`` empty) or several parts."""

    token: str
    options: tuple[Part, ...] = ()


def find_part(catalogue: list[Part], token: str) -> Part | Unresolved:
    """SKU first, then the exact name, then a unique part whose SKU or name contains the token;
    all case-insensitive."""
    key = token.strip().casefold()
    for part in catalogue:
        if part.sku.casefold() == key:
            return part
    matches = [p for p in catalogue if p.name.casefold() == key]
    if not matches:
        matches = [p for p in catalogue if key in p.name.casefold() or key in p.sku.casefold()]
    if len(matches) == 1:
        return matches[0]
    return Unresolved(token.strip(), tuple(matches))


def resolve_lines(
    catalogue: list[Part], wanted: tuple[tuple[str, int], ...]
) -> tuple[list[PartLine], list[Unresolved]]:
    """Typed (name or SKU, qty) pairs → catalogue lines (same part twice: quantities add up)."""
    qty: dict[str, int] = {}
    parts: dict[str, Part] = {}
    problems: list[Unresolved] = []
    for token, count in wanted:
        found = find_part(catalogue, token)
        if isinstance(found, Unresolved):
            problems.append(found)
            continue
        parts[found.sku] = found
        qty[found.sku] = qty.get(found.sku, 0) + int(count)
    lines = [
        PartLine(sku=sku, name=parts[sku].name, qty=n, unit_cost=parts[sku].unit_cost)
        for sku, n in qty.items()
    ]
    return lines, problems
