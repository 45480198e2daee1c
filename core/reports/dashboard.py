"""The managers' dashboard figures and the tickets export, over the last N days.

Tickets that were created, resolved or closed in the window are read once and folded in
Python, so SQLite and PostgreSQL give the same figures. Definitions follow ``summary.py``:

- by status / by region: tickets created in the window, by their current status and by the
  region of their machine (else the assignee's region, else 未指定);
- created / closed per day (days in ``config.timezone``);
- per week (Monday) of the first response / resolution: mean first response and resolution
  time, and SLA attainment (resolved in time and, when it had one, first answered in time);
- engineers: tickets closed in the window by assignee, their mean rating and resolution time;
- satisfaction: ratings of tickets closed in the window, 1 to 5;
- parts: approved requests decided in the window, by SKU (quantity and cost).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from statistics import fmean
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select, union
from sqlalchemy.ext.asyncio import AsyncConnection

from core import db
from core.settings import DeskConfig
from core.tickets.workflow import OPEN_STATUSES, STATUS_ZH, Status

UNKNOWN_REGION = "未指定"
EXPORT_COLUMNS = (
    ("编号", "ref"),
    ("标题", "title"),
    ("类型", "type"),
    ("优先级", "priority"),
    ("状态", "status"),
    ("区域", "region"),
    ("设备", "asset"),
    ("报修人", "requester"),
    ("工程师", "assignee"),
    ("渠道", "channel"),
    ("创建时间", "created_at"),
    ("首次响应", "first_response_at"),
    ("解决时间", "resolved_at"),
    ("关闭时间", "closed_at"),
    ("响应时限", "response_due_at"),
    ("解决时限", "resolve_due_at"),
    ("评分", "rating"),
    ("备件成本", "parts_cost"),
)


def _in(at: datetime | None, start: datetime, end: datetime) -> bool:
    return at is not None and start <= at <= end


def _mean(values: Iterable[float]) -> float | None:
    items = list(values)
    return round(fmean(items), 2) if items else None


def _met(t: dict[str, Any]) -> bool:
    if t["resolved_at"] > t["resolve_due_at"]:
        return False
    due = t["response_due_at"]
    return due is None or (t["first_response_at"] is not None and t["first_response_at"] <= due)


def _touched_since(conn: AsyncConnection, start: datetime) -> Any:
    """The tickets created, resolved or closed since ``start``, as three index ranges: an OR
    (PostgreSQL ORs the three bitmaps); on SQLite, whose planner would rather read the whole
    table in id order for that OR, the union of the three ranges' ids."""
    t = db.tickets.c
    cols = (t.created_at, t.resolved_at, t.closed_at)
    if conn.dialect.name == "postgresql":
        return or_(*(col >= start for col in cols))
    return t.id.in_(union(*(select(t.id).where(col >= start) for col in cols)))


async def _tickets(conn: AsyncConnection, start: datetime) -> list[dict[str, Any]]:
    t, a, p, r = db.tickets, db.assets, db.people.alias("assignee"), db.people.alias("requester")
    rows = await conn.execute(
        select(
            t,
            a.c.region.label("asset_region"),
            p.c.name.label("assignee_name"),
            p.c.region.label("assignee_region"),
            r.c.name.label("requester_name"),
        )
        .select_from(
            t.outerjoin(a, a.c.id == t.c.asset_id)
            .outerjoin(p, p.c.id == t.c.assignee_id)
            .outerjoin(r, r.c.id == t.c.requester_id)
        )
        .where(_touched_since(conn, start))
        .order_by(t.c.id)
    )
    out = []
    for row in rows:
        m = dict(row._mapping)
        m["region"] = m["asset_region"] or m["assignee_region"] or UNKNOWN_REGION
        out.append(m)
    return out


async def _parts(conn: AsyncConnection, start: datetime, end: datetime) -> list[dict[str, Any]]:
    r = db.part_requests
    rows = await conn.execute(
        select(r.c.lines).where(
            r.c.status == "approved", and_(r.c.decided_at >= start, r.c.decided_at <= end)
        )
    )
    qty: Counter[str] = Counter()
    cost: Counter[str] = Counter()
    names: dict[str, str] = {}
    for (lines,) in rows:
        for line in lines or []:
            sku = str(line.get("sku", ""))
            names[sku] = str(line.get("name", sku))
            qty[sku] += int(line.get("qty", 0))
            cost[sku] += float(line.get("unit_cost", 0.0)) * int(line.get("qty", 0))
    return [
        {"sku": sku, "name": names[sku], "qty": n, "cost": round(cost[sku], 2)}
        for sku, n in sorted(qty.items(), key=lambda kv: (-cost[kv[0]], kv[0]))
    ]


def _week(at: datetime, tz: ZoneInfo) -> date:
    local = at.astimezone(tz).date()
    return local - timedelta(days=local.weekday())


def _weekly(
    tickets: list[dict[str, Any]], start: datetime, end: datetime, tz: ZoneInfo
) -> dict[str, list[Any]]:
    first: defaultdict[date, list[float]] = defaultdict(list)
    resolve: defaultdict[date, list[float]] = defaultdict(list)
    sla: defaultdict[date, list[bool]] = defaultdict(list)
    for t in tickets:
        if _in(t["first_response_at"], start, end):
            first[_week(t["first_response_at"], tz)].append(
                (t["first_response_at"] - t["created_at"]).total_seconds() / 60
            )
        if _in(t["resolved_at"], start, end):
            week = _week(t["resolved_at"], tz)
            resolve[week].append((t["resolved_at"] - t["created_at"]).total_seconds() / 3600)
            if t["resolve_due_at"] is not None:
                sla[week].append(_met(t))
    weeks, week = [], _week(start, tz)
    while week <= _week(end, tz):
        weeks.append(week)
        week += timedelta(days=7)

    def pct(flags: list[bool]) -> float | None:
        return round(100 * sum(flags) / len(flags), 1) if flags else None

    return {
        "weeks": [w.strftime("%m-%d") for w in weeks],
        "first_response_min": [_mean(first[w]) for w in weeks],
        "resolution_h": [_mean(resolve[w]) for w in weeks],
        "sla_pct": [pct(sla[w]) for w in weeks],
        "sla_met": [sum(sla[w]) for w in weeks],
        "sla_total": [len(sla[w]) for w in weeks],
    }


async def dashboard_figures(
    conn: AsyncConnection, *, days: int, now: datetime, config: DeskConfig
) -> dict[str, Any]:
    tz = ZoneInfo(config.timezone)
    first_day = now.astimezone(tz).date() - timedelta(days=days - 1)
    start = datetime.combine(first_day, datetime.min.time(), tz)
    tickets = await _tickets(conn, start)
    created = [t for t in tickets if _in(t["created_at"], start, now)]
    closed = [
        t for t in tickets if t["status"] == Status.CLOSED and _in(t["closed_at"], start, now)
    ]
    resolved = [t for t in tickets if _in(t["resolved_at"], start, now)]
    with_due = [t for t in resolved if t["resolve_due_at"] is not None]
    rated = [t for t in closed if t["rating"] is not None]
    status_n = Counter(Status(t["status"]) for t in created)
    day_list = [first_day + timedelta(days=i) for i in range(days)]
    per_day_created = Counter(t["created_at"].astimezone(tz).date() for t in created)
    per_day_closed = Counter(t["closed_at"].astimezone(tz).date() for t in closed)
    engineers: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for t in closed:
        if t["assignee_id"]:
            engineers[t["assignee_name"] or t["assignee_id"]].append(t)
    parts = await _parts(conn, start, now)
    first_s = [
        (t["first_response_at"] - t["created_at"]).total_seconds()
        for t in tickets
        if _in(t["first_response_at"], start, now)
    ]
    return {
        "period": {
            "days": days,
            "start": first_day.isoformat(),
            "end": now.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
        },
        "kpi": {
            "created": len(created),
            "closed": len(closed),
            "open": await _open_now(conn),
            "first_response_s": _mean(first_s),
            "resolution_s": _mean(
                (t["resolved_at"] - t["created_at"]).total_seconds() for t in resolved
            ),
            "sla_met": sum(_met(t) for t in with_due),
            "sla_total": len(with_due),
            "avg_rating": _mean(t["rating"] for t in rated),
            "rated": len(rated),
            "parts_cost": round(sum(p["cost"] for p in parts), 2),
        },
        "by_status": [
            {"status": s.value, "label": STATUS_ZH[s], "n": status_n[s]}
            for s in Status
            if status_n[s]
        ],
        "by_region": [
            {"region": k, "n": n} for k, n in Counter(t["region"] for t in created).most_common()
        ],
        "daily": {
            "days": [d.strftime("%m-%d") for d in day_list],
            "created": [per_day_created[d] for d in day_list],
            "closed": [per_day_closed[d] for d in day_list],
        },
        "weekly": _weekly(tickets, start, now, tz),
        "engineers": sorted(
            (
                {
                    "name": name,
                    "closed": len(items),
                    "avg_rating": _mean(t["rating"] for t in items if t["rating"] is not None),
                    "resolution_h": _mean(
                        (t["resolved_at"] - t["created_at"]).total_seconds() / 3600
                        for t in items
                        if t["resolved_at"]
                    ),
                }
                for name, items in engineers.items()
            ),
            key=lambda e: (-e["closed"], e["name"]),
        ),
        "ratings": [sum(1 for t in rated if t["rating"] == score) for score in range(1, 6)],
        "parts": parts,
    }


async def _open_now(conn: AsyncConnection) -> int:
    t = db.tickets
    rows = await conn.execute(
        select(t.c.id).where(t.c.status.in_([s.value for s in OPEN_STATUSES]))
    )
    return len(rows.all())


async def export_rows(
    conn: AsyncConnection, *, days: int, now: datetime, config: DeskConfig
) -> list[list[str]]:
    """The tickets created, resolved or closed in the window, one row each, header first."""
    tz = ZoneInfo(config.timezone)
    first_day = now.astimezone(tz).date() - timedelta(days=days - 1)
    start = datetime.combine(first_day, datetime.min.time(), tz)
    types = {t.key: t.name for t in config.ticket_types}
    prio = {"urgent": "紧急", "high": "高", "normal": "普通", "low": "低"}

    def cell(t: dict[str, Any], key: str) -> str:
        value = t.get(key)
        if key == "ref":
            return f"#{t['id']}"
        if key == "type":
            return types.get(value, value or "")
        if key == "priority":
            return prio.get(value, value or "")
        if key == "status":
            return STATUS_ZH[Status(value)]
        if key == "asset":
            return t.get("asset_id") or ""
        if key in ("requester", "assignee"):
            return t.get(f"{key}_name") or t.get(f"{key}_id") or ""
        if isinstance(value, datetime):
            return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        if key == "parts_cost":
            return f"{float(value or 0):.2f}"
        return "" if value is None else str(value)

    rows = [[label for label, _ in EXPORT_COLUMNS]]
    for t in await _tickets(conn, start):
        rows.append([cell(t, key) for _, key in EXPORT_COLUMNS])
    return rows
