"""Dashboard figures and the tickets export on the real database, against hand-computed values.
PostgreSQL when CHATDESK_TEST_DATABASE_URL is set (and then SQLite as well), else SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from core import db
from core.assets.model import Asset
from core.people.model import Person, PersonKind
from core.reports.dashboard import dashboard_figures, export_rows
from core.settings import DeskConfig
from core.tickets.model import Ticket
from core.tickets.workflow import Status
from core.uow import SqlUnitOfWork

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 6, 11, 15, 0, tzinfo=SH)  # Wednesday; 7 days = from Thu 06-05 00:00
CONFIG = DeskConfig()


def sh(day: int, hour: int, minute: int = 0, month: int = 6) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=SH)


PEOPLE = [
    Person(
        id="zhang", name="张伟", kind=PersonKind.STAFF, roles=frozenset({"engineer"}), region="华东"
    ),
    Person(
        id="wang", name="王强", kind=PersonKind.STAFF, roles=frozenset({"engineer"}), region="华南"
    ),
    Person(id="c1", name="=HYPERLINK(1)"),  # a customer name a spreadsheet must not run
]


def ticket(tid: int, status: Status, created: datetime, **kw: Any) -> Ticket:
    return Ticket(id=tid, type="repair", title=f"工单 {tid}", requester_id="c1", status=status,
                  created_at=created, updated_at=created, **kw)  # fmt: skip


TICKETS = [
    # on machine A1 (华东) though 王强 is in 华南: 30 min response (met), resolved in 2 h, rated 5
    ticket(1, Status.CLOSED, sh(10, 9), asset_id="A1", assignee_id="wang",
           first_response_at=sh(10, 9, 30), response_due_at=sh(10, 10), resolved_at=sh(10, 11),
           resolve_due_at=sh(10, 17), closed_at=sh(10, 12), rating=5),
    # no machine: 王强's region; 60 min response (due 10:30: missed), resolved in 3 h, rated 3
    ticket(2, Status.CLOSED, sh(11, 10), assignee_id="wang", first_response_at=sh(11, 11),
           response_due_at=sh(11, 10, 30), resolved_at=sh(11, 13), resolve_due_at=sh(11, 18),
           closed_at=sh(11, 14), rating=3),
    # new, nobody assigned: 未指定
    ticket(3, Status.NEW, sh(11, 8)),
    # created before the window, resolved late (8 days) and closed in it, rated 4
    ticket(4, Status.CLOSED, sh(1, 9), assignee_id="zhang", first_response_at=sh(1, 9, 20),
           response_due_at=sh(1, 10), resolved_at=sh(9, 9), resolve_due_at=sh(8, 9),
           closed_at=sh(9, 10), rating=4),
    # all before the window
    ticket(5, Status.CLOSED, sh(1, 9, month=5), assignee_id="zhang", resolved_at=sh(2, 9, month=5),
           closed_at=sh(2, 10, month=5), rating=1),
]  # fmt: skip
LX = {"sku": "LX-01", "name": "滤芯", "qty": 2, "unit_cost": 85.0}
MF = {"sku": "MF-03", "name": "密封圈", "qty": 4, "unit_cost": 12.5}
PART_REQUESTS = [  # (ticket, lines, status, decided at)
    (1, [LX], "approved", sh(10, 10, 30)),
    (4, [MF], "approved", sh(8, 9)),
    (4, [LX], "approved", sh(1, 10)),  # before the window
    (2, [LX, MF], "rejected", sh(11, 12)),
]


@pytest.fixture
async def engine(migrated_engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    engine = migrated_engine
    async with SqlUnitOfWork(engine) as uow:
        for person in PEOPLE:
            await uow.people.upsert(person, at=NOW)
        await uow.assets.upsert(Asset(id="A1", model="HX-2000", region="华东"), at=NOW)
        for t in TICKETS:
            await uow.tickets.add(t)
        await uow.conn.execute(
            insert(db.part_requests),
            [
                {"ticket_id": tid, "requested_by": "zhang", "lines": lines, "status": status,
                 "decided_by": "ku", "decided_at": at, "reason": "", "cost": 0.0, "created_at": at}
                for tid, lines, status, at in PART_REQUESTS
            ],
        )  # fmt: skip
        await uow.commit()
    yield engine


async def test_figures_over_seven_days(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        f = await dashboard_figures(conn, days=7, now=NOW, config=CONFIG)
    assert f["period"]["start"] == "2025-06-05"
    k = f["kpi"]
    assert (k["created"], k["closed"], k["open"]) == (3, 3, 1)
    assert k["first_response_s"] == 2700.0  # (30 + 60) / 2 minutes; #4 answered before the window
    assert k["resolution_s"] == round((2 + 3 + 192) * 3600 / 3, 2)
    assert (k["sla_met"], k["sla_total"]) == (1, 3)
    assert (k["avg_rating"], k["rated"]) == (4.0, 3)
    assert k["parts_cost"] == 220.0
    assert f["by_status"] == [
        {"status": "new", "label": "待派单", "n": 1},
        {"status": "closed", "label": "已关闭", "n": 2},
    ]
    assert sorted((r["region"], r["n"]) for r in f["by_region"]) == [
        ("华东", 1), ("华南", 1), ("未指定", 1),
    ]  # fmt: skip
    assert f["daily"]["days"] == ["06-05", "06-06", "06-07", "06-08", "06-09", "06-10", "06-11"]
    assert f["daily"]["created"] == [0, 0, 0, 0, 0, 1, 2]
    assert f["daily"]["closed"] == [0, 0, 0, 0, 1, 1, 1]
    w = f["weekly"]
    assert w["weeks"] == ["06-02", "06-09"]
    assert w["first_response_min"] == [None, 45.0]
    assert w["resolution_h"] == [None, round((2 + 3 + 192) / 3, 2)]
    assert (w["sla_pct"], w["sla_met"], w["sla_total"]) == ([None, 33.3], [0, 1], [0, 3])
    assert f["engineers"] == [
        {"name": "王强", "closed": 2, "avg_rating": 4.0, "resolution_h": 2.5},
        {"name": "张伟", "closed": 1, "avg_rating": 4.0, "resolution_h": 192.0},
    ]
    assert f["ratings"] == [0, 0, 1, 1, 1]
    assert f["parts"] == [
        {"sku": "LX-01", "name": "滤芯", "qty": 2, "cost": 170.0},
        {"sku": "MF-03", "name": "密封圈", "qty": 4, "cost": 50.0},
    ]


async def test_a_longer_window_takes_in_older_work(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        f = await dashboard_figures(conn, days=90, now=NOW, config=CONFIG)
    assert (f["kpi"]["created"], f["kpi"]["closed"]) == (5, 4)
    assert f["ratings"] == [1, 0, 1, 1, 1]
    assert len(f["daily"]["days"]) == 90


async def test_export_rows(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        rows = await export_rows(conn, days=7, now=NOW, config=CONFIG)
    header, *body = rows
    assert header[:5] == ["编号", "标题", "类型", "优先级", "状态"]
    assert [r[0] for r in body] == ["#1", "#2", "#3", "#4"]
    first = dict(zip(header, body[0], strict=True))
    assert first["区域"] == "华东" and first["设备"] == "A1" and first["工程师"] == "王强"
    assert first["创建时间"] == "2025-06-10 09:00" and first["评分"] == "5"
    assert first["报修人"] == "=HYPERLINK(1)"  # neutralised by the CSV writer, not here
    assert dict(zip(header, body[2], strict=True))["状态"] == "待派单"
