"""Settlement arithmetic: pure functions on Decimal yuan, rounded to the fen (half up).

- labour: a fixed fee for the ticket type when configured, else the time on site (arrival to
  completion) billed per started ``billing_increment_minutes`` with ``minimum_minutes``, at the
  hourly rate of the engineer's level;
- parts: quantity × unit cost of every approved request;
- travel: the fee of the asset's region (else the default);
- under warranty or a service contract the customer pays 0.00, but every line is still costed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.money import money
from core.settings import SettlementConfig

ZERO = Decimal("0.00")
KIND_ZH = {"labour": "人工", "parts": "备件", "travel": "差旅"}


@dataclass(frozen=True)
class Line:
    kind: str  # labour | parts | travel
    description: str
    amount: Decimal
    quantity: str = ""  # "2", "1.5 小时"
    unit_price: Decimal | None = None

    def dump(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "description": self.description,
            "amount": str(self.amount),
            "quantity": self.quantity,
            "unit_price": None if self.unit_price is None else str(self.unit_price),
        }


@dataclass(frozen=True)
class PartUse:
    sku: str
    name: str
    qty: int
    unit_cost: Decimal


@dataclass(frozen=True)
class Settlement:
    lines: tuple[Line, ...]
    free_reason: str  # "", "warranty", "contract"
    labour_minutes: int

    @property
    def total(self) -> Decimal:
        return money(sum((line.amount for line in self.lines), ZERO))

    @property
    def customer_pays(self) -> Decimal:
        return ZERO if self.free_reason else self.total


def billable_minutes(minutes: int, cfg: SettlementConfig) -> int:
    step = cfg.billing_increment_minutes
    started = math.ceil(max(minutes, 0) / step) * step
    return max(started, cfg.minimum_minutes)


def labour_line(*, minutes: int, level: str, ticket_type: str, cfg: SettlementConfig) -> Line:
    level = level if level in cfg.labour_rates else cfg.default_level
    if ticket_type in cfg.fixed_fees:
        return Line("labour", f"{ticket_type} 固定服务费", money(cfg.fixed_fees[ticket_type]), "1")
    rate = money(cfg.labour_rates.get(level, ZERO))
    billed = billable_minutes(minutes, cfg)
    hours = Decimal(billed) / Decimal(60)
    return Line(
        "labour",
        f"现场工时 {billed} 分钟（{level}）",
        money(rate * hours),
        f"{hours.normalize():f} 小时",
        rate,
    )


def settle(
    *,
    minutes: int,
    level: str,
    ticket_type: str,
    parts: list[PartUse],
    region: str,
    free_reason: str,
    cfg: SettlementConfig,
) -> Settlement:
    lines = [labour_line(minutes=minutes, level=level, ticket_type=ticket_type, cfg=cfg)]
    for part in parts:
        unit = money(part.unit_cost)
        lines.append(
            Line("parts", f"{part.sku} {part.name}", money(unit * part.qty), str(part.qty), unit)
        )
    travel = money(cfg.travel_fees.get(region, cfg.default_travel_fee))
    if travel:
        lines.append(Line("travel", f"差旅费（{region or '默认'}）", travel, "1", travel))
    return Settlement(lines=tuple(lines), free_reason=free_reason, labour_minutes=minutes)
