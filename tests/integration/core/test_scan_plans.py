"""The hot scans and reads do not grow with history: with 100k tickets (300k history rows, 100k
offers; tests/fakes/scan_seed.py, then ANALYZE) every statement they run is EXPLAINed, and none
may read ``tickets``, ``ticket_history`` or ``offers`` sequentially.

The statements are the ones the code really runs (captured from the engine while each scenario
runs through the bus or the repositories), EXPLAINed afterwards with their own parameters.
PostgreSQL: ``EXPLAIN (FORMAT JSON)``, every node of the plan walked, no ``Seq Scan`` of those
tables. SQLite: ``EXPLAIN QUERY PLAN``, every access to them an index SEARCH, or a SCAN that a
LIMIT stops early in index order (no temporary b-tree to sort first).

Runs on SQLite always and on PostgreSQL when CHATDESK_TEST_DATABASE_URL is set (CI sets it).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core import db
from core.bus import MessageBus
from core.clock import FixedClock
from core.messages import Actor
from core.reports.dashboard import dashboard_figures, export_rows
from core.reports.summary import summary_card_args
from core.settings import DeskConfig
from core.tickets.commands import ScanAssignments, ScanAutoClose
from core.tickets.repository import TicketFilter
from core.uow import SqlUnitOfWork
from tests.fakes.scan_seed import OPEN_NEWEST, STAFF, desk_config, lapse, seed
from webhooks.bootstrap import build_bus

N = 100_000
GUARDED = ("tickets", "ticket_history", "offers")
NOW = datetime(2026, 6, 28, 3, 0, tzinfo=UTC)  # late in a month: the month holds ~3.7k
SYSTEM = Actor.system()


@dataclass
class Captured:
    statements: list[tuple[str, Any]] = field(default_factory=list)
    on: bool = False

    @contextmanager
    def recording(self) -> Iterator[None]:
        self.on = True
        try:
            yield
        finally:
            self.on = False

    def __call__(
        self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        head = statement.lstrip().split(None, 1)[0].upper()
        if self.on and head in ("SELECT", "WITH", "UPDATE", "DELETE"):
            # an executemany (the scans' grouped writes) is planned once: its first row's
            self.statements.append((statement, params[0] if many else params))


def pg_seq_scans(plan: Any) -> list[str]:
    """The guarded relations read by a ``Seq Scan`` anywhere in a JSON plan."""
    found: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") in GUARDED:
            found.append(str(node["Relation Name"]))
        for child in node.get("Plans", []):
            walk(child)

    for entry in plan:
        walk(entry["Plan"])
    return found


_SCAN = re.compile(r"^SCAN (\w+)")


def sqlite_full_scans(details: list[str], statement: str) -> list[str]:
    """The guarded tables a SQLite plan scans without an index range."""
    stops_early = " LIMIT " in statement.upper() and not any("TEMP B-TREE" in d for d in details)
    found = []
    for detail in details:
        match = _SCAN.match(detail)
        if match and match.group(1) in GUARDED and not stops_early:
            found.append(detail)
    return found


def touches(details: Any) -> bool:
    return any(name in str(details) for name in GUARDED)


async def explain(engine: AsyncEngine, statement: str, params: Any) -> tuple[Any, list[str]]:
    """(the plan, the guarded tables it reads sequentially)."""
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            result = await conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, params)
            plan = result.scalar()
            return plan, pg_seq_scans(plan)
        rows = (await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)).all()
        details = [str(r[3]) for r in rows]
        return details, sqlite_full_scans(details, statement)


@dataclass
class Desk:
    engine: AsyncEngine
    bus: MessageBus
    config: DeskConfig
    captured: Captured = field(default_factory=Captured)


Scenario = Callable[[Desk], Awaitable[None]]


async def auto_close_nothing_due(desk: Desk) -> None:
    with desk.captured.recording():
        assert await desk.bus.handle(ScanAutoClose(actor=SYSTEM, source="plans:close")) == 0


async def redispatch_lapsed(desk: Desk) -> None:
    ids = list(range(N - OPEN_NEWEST - 20, N - OPEN_NEWEST))  # closed a few days ago
    async with desk.engine.begin() as conn:
        await lapse(conn, ids, NOW - timedelta(hours=1))
    with desk.captured.recording():
        assert await desk.bus.handle(ScanAssignments(actor=SYSTEM, source="plans:lapse")) == 20
    t = db.tickets.c
    async with desk.engine.connect() as conn:
        rows = (
            await conn.execute(select(t.id, t.assignee_id, t.status).where(t.id.in_(ids)))
        ).all()
    # each one assigned again, to someone other than the engineer who let it lapse
    assert sorted((i, s) for i, _, s in rows) == [(i, "assigned") for i in ids]
    assert all(who not in (None, f"e{i % STAFF}") for i, who, _ in rows)


async def month_summary(desk: Desk) -> None:
    async with desk.engine.connect() as conn:
        with desk.captured.recording():
            args = await summary_card_args(conn, period="month", now=NOW, config=desk.config)
    # a month of two years' 100k tickets: about 4k created, most of them closed
    assert 3000 < args["created"] < 6000 and 2000 < args["closed"] <= args["created"]
    # the newest are open, and so are the 20 the re-dispatch scenario assigned again
    assert OPEN_NEWEST <= args["open_total"] <= OPEN_NEWEST + 20


async def dashboard(desk: Desk) -> None:
    async with desk.engine.connect() as conn:
        with desk.captured.recording():
            figures = await dashboard_figures(conn, days=30, now=NOW, config=desk.config)
            rows = await export_rows(conn, days=7, now=NOW, config=desk.config)
    assert 3000 < figures["kpi"]["created"] < 6000
    assert 500 < len(rows) < 3000


async def ticket_list_pages(desk: Desk) -> None:
    """What GET /api/v1/tickets runs: first pages and cursor pages, with each filter."""
    filters: list[dict[str, Any]] = [
        {},
        {"before_id": N // 2},
        {"status": ["new"]},
        {"status": ["closed"], "before_id": 1000},
        {"assignee_id": "e7", "before_id": N // 3},
        {"requester_id": "c42"},
        {"type": "repair", "before_id": 20},
    ]
    async with SqlUnitOfWork(desk.engine) as uow:
        with desk.captured.recording():
            pages = [await uow.tickets.page(TicketFilter(limit=51, **f)) for f in filters]
    assert [len(p) for p in pages] == [51, 51, 50, 51, 51, 51, 19]
    assert [t.id for t in pages[1]] == list(range(N // 2 - 1, N // 2 - 52, -1))


SCENARIOS: dict[str, Scenario] = {
    "auto-close, nothing due": auto_close_nothing_due,
    "re-dispatch of 20 lapsed offers": redispatch_lapsed,
    "month summary (统计 本月)": month_summary,
    "dashboard (30 days) and its export": dashboard,
    "REST ticket list pages": ticket_list_pages,
}


@pytest.fixture
async def desk(migrated_engine: AsyncEngine) -> Desk:
    staff = await seed(migrated_engine, N, NOW)
    config = DeskConfig.model_validate(desk_config(staff)).with_platforms(("wecom",))
    bus = build_bus(migrated_engine, config, FixedClock(NOW + timedelta(minutes=1)))
    return Desk(migrated_engine, bus, config)


async def test_hot_statements_read_index_ranges_at_100k_tickets(desk: Desk) -> None:
    engine = desk.engine
    plan, bad = await explain(engine, "SELECT id FROM tickets WHERE title LIKE '%x%'", ())
    assert bad, f"the check must see this sequential scan: {plan}"
    _, bad = await explain(engine, "SELECT title FROM tickets WHERE id = 7", ())
    assert bad == []
    event.listen(engine.sync_engine, "before_cursor_execute", desk.captured)
    problems: list[str] = []
    for name, scenario in SCENARIOS.items():
        desk.captured.statements.clear()
        await scenario(desk)
        guarded = 0
        for statement, params in desk.captured.statements:
            plan, bad = await explain(engine, statement, params)
            guarded += touches(plan)
            if bad:
                problems.append(f"{name}: sequential scan of {bad} in\n{statement}\n{plan}")
        assert guarded, f"{name}: no statement read {GUARDED} (nothing was checked)"
    event.remove(engine.sync_engine, "before_cursor_execute", desk.captured)
    assert problems == [], "\n\n".join(problems)
