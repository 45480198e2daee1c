"""KPIs for the managers' summary card: a few aggregate queries, SQLite and PostgreSQL alike.

Periods start at local midnight in ``config.timezone``: today, this week (Monday), this month
(the 1st), and end now. What each figure counts:

- created / closed: tickets created / closed in the period (closed includes automatic closes);
- open by status, overdue: now (overdue = resolve_due_at passed, not resolved/closed/cancelled);
- first response: mean of first_response_at − created_at over first responses in the period;
- resolution: mean of resolved_at − created_at over tickets resolved in the period (a reopened
  ticket counts when it is resolved again);
- SLA attainment: of the tickets resolved in the period that have a resolve due time, those
  resolved in time and (when they had a response due time) first answered in time;
- top engineers: closed tickets per assignee in the period;
- average rating: over tickets closed in the period that were rated;
- parts cost: approved parts requests decided in the period.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache, reduce
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Select,
    Subquery,
    and_,
    bindparam,
    case,
    extract,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from core import db
from core.settings import DeskConfig
from core.sla.report import sla_figures
from core.tickets.workflow import OPEN_STATUSES, STATUS_ZH, Status

PERIODS = ("today", "week", "month")
APPROVED = "approved"  # part_requests.status of an approved request
_DONE = (Status.RESOLVED, Status.CLOSED, Status.CANCELLED)
_NOT_DONE = [s.value for s in Status if s not in _DONE]  # an index range per status
_OPEN = [s for s in Status if s in OPEN_STATUSES]


def period_start(period: str, now: datetime, timezone: str) -> datetime:
    """The period's first instant (local midnight), in UTC."""
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}")
    local = now.astimezone(ZoneInfo(timezone))
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        start -= timedelta(days=local.weekday())
    elif period == "month":
        start = start.replace(day=1)
    return start.astimezone(UTC)


def _seconds(dialect: str, later: Any, earlier: Any) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _count(cond: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def _within(col: Any, start: Any, end: Any) -> ColumnElement[bool]:
    return and_(col.is_not(None), col >= start, col <= end)


def _one(name: str, *columns: Any, where: Any) -> Subquery:
    return select(*columns).where(*where).subquery(name)


@lru_cache(maxsize=4)
def _figures_query(dialect: str) -> tuple[Select[Any], tuple[Subquery, ...]]:
    """Each figure reads the index range of its own time column (created_at, first_response_at,
    resolved_at, closed_at), the open statuses (their count, their due times) or the parts
    requests decided in the period: never the whole table. Each range is a one-row subquery
    of one statement (one round trip), built once: ``start`` and ``now`` are parameters."""
    start, now = bindparam("start", type_=db.TS), bindparam("now", type_=db.TS)
    t = db.tickets.c
    created = _one("created", func.count().label("n"), where=[_within(t.created_at, start, now)])
    responded = _one(
        "responded",
        func.avg(_seconds(dialect, t.first_response_at, t.created_at)).label("s"),
        where=[_within(t.first_response_at, start, now)],
    )
    with_due = t.resolve_due_at.is_not(None)
    in_time = and_(
        with_due,
        t.resolved_at <= t.resolve_due_at,
        or_(
            t.response_due_at.is_(None),
            and_(t.first_response_at.is_not(None), t.first_response_at <= t.response_due_at),
        ),
    )
    resolved = _one(
        "resolved",
        func.avg(_seconds(dialect, t.resolved_at, t.created_at)).label("s"),
        _count(with_due).label("sla_total"),
        _count(in_time).label("sla_met"),
        where=[_within(t.resolved_at, start, now)],
    )
    closed = _one(
        "closed",
        func.count().label("n"),
        func.avg(t.rating).label("avg_rating"),
        func.count(t.rating).label("rated"),
        where=[t.status == Status.CLOSED.value, _within(t.closed_at, start, now)],
    )
    overdue = _one(
        "overdue",
        func.count().label("n"),
        where=[t.status.in_(_NOT_DONE), t.resolve_due_at.is_not(None), t.resolve_due_at < now],
    )
    opened = _one(
        "opened",
        *(_count(t.status == s.value).label(s.value) for s in _OPEN),
        where=[t.status.in_([s.value for s in _OPEN])],
    )
    r = db.part_requests.c
    parts_cost = _one(
        "parts_cost",
        func.coalesce(func.sum(r.cost), literal(0.0)).label("yuan"),
        where=[r.status == APPROVED, _within(r.decided_at, start, now)],
    )
    ranges = (created, responded, resolved, closed, overdue, opened, parts_cost)
    joined = reduce(lambda a, b: a.join(b, true()), ranges[1:], ranges[0])  # each one row
    return select(*(c for q in ranges for c in q.c)).select_from(joined), ranges


async def _figures(conn: AsyncConnection, start: datetime, now: datetime) -> dict[str, Any]:
    query, ranges = _figures_query(conn.dialect.name)
    row = (await conn.execute(query, {"start": start, "now": now})).one()
    got = {q.name: {c.name: row._mapping[c] for c in q.c} for q in ranges}
    created, responded, resolved, closed, overdue = (got[q.name] for q in ranges[:5])
    open_by = [(STATUS_ZH[s], int(got["opened"][s.value])) for s in _OPEN]
    open_by = [(name, n) for name, n in open_by if n]

    def num(value: Any) -> float | None:
        return None if value is None else round(float(value), 2)

    return {
        "created": int(created["n"]),
        "closed": int(closed["n"]),
        "overdue": int(overdue["n"]),
        "first_response_s": num(responded["s"]),
        "resolution_s": num(resolved["s"]),
        "sla_total": int(resolved["sla_total"]),
        "sla_met": int(resolved["sla_met"]),
        "avg_rating": num(closed["avg_rating"]),
        "rated": int(closed["rated"]),
        "open_by_status": open_by,
        "open_total": sum(n for _, n in open_by),
        "parts_cost": round(float(got["parts_cost"]["yuan"] or 0.0), 2),
    }


async def _top_engineers(
    conn: AsyncConnection, start: datetime, now: datetime, limit: int
) -> list[tuple[str, int]]:
    t, p = db.tickets, db.people
    n = func.count().label("n")
    rows = await conn.execute(
        select(func.coalesce(p.c.name, t.c.assignee_id).label("name"), n)
        .select_from(t.outerjoin(p, p.c.id == t.c.assignee_id))
        .where(
            t.c.assignee_id.is_not(None),
            t.c.status == Status.CLOSED.value,
            _within(t.c.closed_at, start, now),
        )
        .group_by(t.c.assignee_id, p.c.name)
        .order_by(n.desc(), t.c.assignee_id)
        .limit(limit)
    )
    return [(str(name), int(count)) for name, count in rows]


async def _revenue_and_cost(
    conn: AsyncConnection, start: datetime, now: datetime
) -> dict[str, str]:
    """Settled tickets closed in the period: what customers pay, and what the jobs cost (every
    line, warranty and contract jobs included). Decimal strings, yuan."""
    from core.settlement.repository import SqlSettlementRepository
    from core.settlement.statements import revenue_and_cost

    rows = await SqlSettlementRepository(conn).closed_between(start, now + timedelta(seconds=1))
    revenue, cost = revenue_and_cost(rows)
    return {"revenue": str(revenue), "cost": str(cost), "settled": str(len(rows))}


async def _knowledge(conn: AsyncConnection, start: datetime, now: datetime) -> dict[str, Any]:
    """Deflections, most viewed articles and knowledge gaps (core/kb/reports.py)."""
    from core.kb.reports import knowledge_report

    return {"kb": await knowledge_report(conn, start, now, top=3)}


async def summary_card_args(
    conn: AsyncConnection, *, period: str, now: datetime, config: DeskConfig
) -> dict[str, Any]:
    """The arguments of the ``summary`` card builder for ``period`` (today | week | month)."""
    start = period_start(period, now, config.timezone)
    tz = ZoneInfo(config.timezone)
    return {
        "period": period,
        "start": start.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
        "end": now.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
        **await _figures(conn, start, now),
        "top_engineers": await _top_engineers(conn, start, now, config.reports.top_engineers),
        **await _revenue_and_cost(conn, start, now),
        **await _knowledge(conn, start, now),
        **await sla_figures(conn, start, now),  # attainment per target, tickets at risk
    }
