"""Monthly statements: per customer (every settled ticket closed in the month) and per engineer
(jobs, time on site, labour), in the desk's time zone. Decimal throughout."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from core.money import money

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
ZERO = Decimal("0.00")


def month_bounds(month: str, tz: str) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next month) in UTC; ValueError for a bad month."""
    m = MONTH.match(month)
    if not m:
        raise ValueError("month")
    year, mon = int(m.group(1)), int(m.group(2))
    if not 2000 <= year <= 2999:
        raise ValueError("month")
    zone = ZoneInfo(tz)
    start = datetime(year, mon, 1, tzinfo=zone)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def _sum(rows: list[dict[str, Any]], kind: str) -> Decimal:
    return money(
        sum((Decimal(line["amount"]) for r in rows for line in r["lines"] if line["kind"] == kind),
            ZERO)
    )  # fmt: skip


@dataclass(frozen=True)
class StatementLine:
    ticket: str
    closed: str
    customer: str
    asset: str
    title: str
    engineer: str
    labour: Decimal
    parts: Decimal
    travel: Decimal
    total: Decimal
    customer_pays: Decimal
    free_reason: str

    HEAD = ("工单", "关闭时间", "客户", "设备", "标题", "工程师", "人工", "备件", "差旅",
            "合计", "客户应付", "免费原因")  # fmt: skip
    KEYS = ("ticket", "closed", "customer", "asset", "title", "engineer", "labour", "parts",
            "travel", "total", "customer_pays", "free_reason")  # fmt: skip

    def cells(self) -> list[Any]:
        return [getattr(self, k) for k in self.KEYS]

    def dump(self) -> dict[str, Any]:
        return {
            k: str(v) if isinstance(v, Decimal) else v
            for k, v in zip(self.KEYS, self.cells(), strict=True)
        }


def statement(rows: list[dict[str, Any]], *, tz: str, names: dict[str, str]) -> list[StatementLine]:
    zone = ZoneInfo(tz)
    out = []
    for r in rows:
        one = [r]
        out.append(
            StatementLine(
                ticket=f"#{r['ticket_id']}",
                closed=r["closed_at"].astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                customer=r["customer"],
                asset=r.get("asset_id") or "",
                title=r.get("title", ""),
                engineer=names.get(r["engineer_id"], r["engineer_id"]),
                labour=_sum(one, "labour"),
                parts=_sum(one, "parts"),
                travel=_sum(one, "travel"),
                total=money(r["total"]),
                customer_pays=money(r["customer_pays"]),
                free_reason={"warranty": "保修", "contract": "合同"}.get(r["free_reason"], ""),
            )
        )
    return out


def totals(lines: list[StatementLine]) -> dict[str, str]:
    keys = ("labour", "parts", "travel", "total", "customer_pays")
    return {k: str(money(sum((getattr(x, k) for x in lines), ZERO))) for k in keys}


ENGINEER_HEAD = ("工程师", "工单数", "现场分钟", "人工金额", "备件金额", "合计")


def per_engineer(rows: list[dict[str, Any]], names: dict[str, str]) -> list[list[Any]]:
    """[name, jobs, minutes on site, labour, parts, total] per engineer, most labour first."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r["engineer_id"], []).append(r)
    table = [
        [
            names.get(eid, eid) or "—",
            len(items),
            sum(int(i["labour_minutes"]) for i in items),
            _sum(items, "labour"),
            _sum(items, "parts"),
            money(sum((Decimal(i["total"]) for i in items), ZERO)),
        ]
        for eid, items in groups.items()
    ]
    return sorted(table, key=lambda r: (-r[3], r[0]))


def revenue_and_cost(rows: list[dict[str, Any]]) -> tuple[Decimal, Decimal]:
    """What customers pay, and what the jobs cost (every line, warranty ones too)."""
    revenue = money(sum((Decimal(r["customer_pays"]) for r in rows), ZERO))
    cost = money(sum((Decimal(r["total"]) for r in rows), ZERO))
    return revenue, cost
