"""The managers' summary figures on the real database, against hand-computed values, and the
daily digest through the bus. PostgreSQL when CHATDESK_TEST_DATABASE_URL is set (and then
SQLite as well), else SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cards.actions import Signer
from cards.registry import build
from core import db
from core.bus import MessageBus
from core.clock import FixedClock
from core.errors import Forbidden
from core.messages import Actor, Channel
from core.people.model import Person, PersonKind
from core.reports.commands import SendDailyDigest
from core.reports.handlers import COMMAND_HANDLERS
from core.reports.summary import period_start, summary_card_args
from core.settings import DeskConfig
from core.tickets.model import Ticket
from core.tickets.workflow import Status
from core.uow import SqlUnitOfWork
from webhooks.bootstrap import migrate

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 6, 11, 15, 0, tzinfo=SH)  # Wednesday afternoon in Shanghai
CONFIG = DeskConfig()


def sh(day: int, hour: int, minute: int = 0, month: int = 6) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=SH)


PEOPLE = [
    Person(id="zhang", name="张伟", kind=PersonKind.STAFF, roles=frozenset({"engineer"})),
    Person(id="wang", name="王强", kind=PersonKind.STAFF, roles=frozenset({"engineer"})),
    Person(
        id="boss",
        name="赵敏",
        kind=PersonKind.STAFF,
        roles=frozenset({"manager"}),
        identities={"wecom": "zhaomin"},
    ),
    Person(
        id="boss.2",
        name="钱进",
        kind=PersonKind.STAFF,
        roles=frozenset({"manager", "agent"}),
        identities={"dingtalk": "0999"},
    ),
    Person(id="c1", name="王先生", identities={"wecom": "kehu"}),
]


def ticket(tid: int, status: Status, created: datetime, **kw: Any) -> Ticket:
    return Ticket(
        id=tid,
        type="repair",
        title=f"工单 {tid}",
        requester_id="c1",
        status=status,
        created_at=created,
        updated_at=created,
        **kw,
    )


# The data set (times in Shanghai; now = Wed 06-11 15:00; week from Mon 06-09, month from 06-01)
TICKETS = [
    # today: 30 min response (due 10:00: met), resolved after 2 h (due 17:00: met), rated 5
    ticket(1, Status.CLOSED, sh(11, 9), assignee_id="zhang", first_response_at=sh(11, 9, 30),
           response_due_at=sh(11, 10), resolved_at=sh(11, 11), resolve_due_at=sh(11, 17),
           closed_at=sh(11, 12), rating=5),
    # today: 60 min response (due 10:30: missed), resolved after 3 h (due 18:00), rated 2
    ticket(2, Status.CLOSED, sh(11, 10), assignee_id="wang", first_response_at=sh(11, 11),
           response_due_at=sh(11, 10, 30), resolved_at=sh(11, 13), resolve_due_at=sh(11, 18),
           closed_at=sh(11, 14), rating=2),
    # today, open and overdue (resolve due 12:00 today), 10 min response
    ticket(3, Status.ACCEPTED, sh(11, 8), assignee_id="zhang", first_response_at=sh(11, 8, 10),
           response_due_at=sh(11, 9), resolve_due_at=sh(11, 12)),
    # Tuesday: 20 min response, resolved after 8 h, late (due 12:00); closed today, not rated
    ticket(4, Status.CLOSED, sh(10, 9), assignee_id="zhang", first_response_at=sh(10, 9, 20),
           response_due_at=sh(10, 10), resolved_at=sh(10, 17), resolve_due_at=sh(10, 12),
           closed_at=sh(11, 8)),
    # June 2nd, new, no due times: open, never overdue
    ticket(5, Status.NEW, sh(2, 10)),
    # May 31st, waiting for parts, overdue since June 5th
    ticket(6, Status.WAITING_PARTS, sh(31, 10, month=5), assignee_id="wang",
           resolve_due_at=sh(5, 10)),
    # Monday: 30 min response (due 08:45: met), resolved after 1 h (due 12:00: met), resolved
    ticket(7, Status.RESOLVED, sh(9, 8), assignee_id="wang", first_response_at=sh(9, 8, 30),
           response_due_at=sh(9, 8, 45), resolved_at=sh(9, 9), resolve_due_at=sh(9, 12)),
    # Monday 07:00 in Shanghai is Sunday 23:00 UTC: in this week all the same
    ticket(8, Status.CANCELLED, sh(9, 7)),
    # Sunday 23:30 in Shanghai: last week, this month
    ticket(9, Status.CANCELLED, sh(8, 23, 30)),
]  # fmt: skip

# (id, ticket, status, cost, decided at)
PART_REQUESTS = [
    (1, 1, "approved", 170.0, sh(11, 11)),
    (2, 7, "approved", 50.0, sh(9, 10)),
    (3, 2, "rejected", 999.0, sh(11, 12)),
    (4, 3, "pending", 80.0, None),
    (5, 5, "approved", 30.0, sh(3, 9)),
    (6, 6, "approved", 1000.0, sh(31, 9, month=5)),
]


@pytest.fixture
async def engine(each_backend_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.make_engine(each_backend_url)
    await migrate(engine)
    async with SqlUnitOfWork(engine) as uow:
        for person in PEOPLE:
            await uow.people.upsert(person, at=NOW)
        for t in TICKETS:
            await uow.tickets.add(t)
        await uow.conn.execute(
            insert(db.part_requests),
            [
                {
                    "id": rid,
                    "ticket_id": tid,
                    "requested_by": "zhang",
                    "lines": [],
                    "status": status,
                    "decided_by": "ku" if at else None,
                    "decided_at": at,
                    "reason": "",
                    "cost": cost,
                    "created_at": sh(1, 0),
                }
                for rid, tid, status, cost, at in PART_REQUESTS
            ],
        )
        await uow.commit()
    yield engine
    await engine.dispose()


async def figures(engine: AsyncEngine, period: str) -> dict[str, Any]:
    async with engine.connect() as conn:
        return await summary_card_args(conn, period=period, now=NOW, config=CONFIG)


def test_periods_start_at_local_midnight() -> None:
    assert period_start("today", NOW, "Asia/Shanghai") == sh(11, 0)
    assert period_start("week", NOW, "Asia/Shanghai") == sh(9, 0)
    assert period_start("month", NOW, "Asia/Shanghai") == sh(1, 0)
    # 01:00 on Monday in Shanghai is still Sunday in UTC; the week is Shanghai's
    assert period_start("week", sh(9, 1), "Asia/Shanghai") == sh(9, 0)
    with pytest.raises(ValueError):
        period_start("year", NOW, "Asia/Shanghai")


async def test_today(engine: AsyncEngine) -> None:
    f = await figures(engine, "today")
    assert (f["period"], f["start"], f["end"]) == ("today", "2025-06-11 00:00", "2025-06-11 15:00")
    assert f["created"] == 3  # 1, 2, 3
    assert f["closed"] == 3  # 1, 2 and 4 (resolved yesterday, closed today)
    assert f["overdue"] == 2  # 3 and 6
    assert [tuple(x) for x in f["open_by_status"]] == [
        ("待派单", 1),
        ("处理中", 1),
        ("等待备件", 1),
        ("已完工", 1),
    ]
    assert f["open_total"] == 4
    assert f["first_response_s"] == pytest.approx((1800 + 3600 + 600) / 3)  # 1, 2, 3
    assert f["resolution_s"] == pytest.approx((7200 + 10800) / 2)  # 1, 2
    assert (f["sla_met"], f["sla_total"]) == (1, 2)  # 2 answered late
    assert [tuple(x) for x in f["top_engineers"]] == [("张伟", 2), ("王强", 1)]
    assert (f["avg_rating"], f["rated"]) == (3.5, 2)
    assert f["parts_cost"] == 170.0  # the rejected 999 and the pending 80 do not count


async def test_week_starts_on_monday_in_the_desk_timezone(engine: AsyncEngine) -> None:
    f = await figures(engine, "week")
    assert f["start"] == "2025-06-09 00:00"
    assert f["created"] == 6  # 1, 2, 3, 4, 7, 8 (not 9: Sunday night)
    assert f["closed"] == 3
    assert f["first_response_s"] == pytest.approx((1800 + 3600 + 600 + 1200 + 1800) / 5)
    assert f["resolution_s"] == pytest.approx((7200 + 10800 + 28800 + 3600) / 4)
    assert (f["sla_met"], f["sla_total"]) == (2, 4)  # 1 and 7 met; 2 answered late, 4 late
    assert f["parts_cost"] == 220.0  # 170 + 50
    assert f["overdue"] == 2 and f["open_total"] == 4  # "now" figures do not depend on it


async def test_month(engine: AsyncEngine) -> None:
    f = await figures(engine, "month")
    assert f["start"] == "2025-06-01 00:00"
    assert f["created"] == 8  # all but 6 (May)
    assert f["parts_cost"] == 250.0  # 170 + 50 + 30, not May's 1000
    assert (f["sla_met"], f["sla_total"]) == (2, 4)
    assert [tuple(x) for x in f["top_engineers"]] == [("张伟", 2), ("王强", 1)]


async def test_an_empty_desk_gives_zeros_and_dashes(each_backend_url: str) -> None:
    engine = db.make_engine(each_backend_url)
    await migrate(engine)
    try:
        async with engine.connect() as conn:
            await conn.execute(db.part_requests.delete())
            await conn.execute(db.ticket_history.delete())
            await conn.execute(db.tickets.delete())
            await conn.commit()
        f = await figures(engine, "today")
    finally:
        await engine.dispose()
    assert (f["created"], f["closed"], f["overdue"], f["open_total"]) == (0, 0, 0, 0)
    assert f["first_response_s"] is None and f["avg_rating"] is None and f["parts_cost"] == 0.0
    card = build({"builder": "summary", "args": f}, key="sum_1", secret=Signer(b"s", "wecom:m", 0))
    values = {x.label: x.value for x in card.fields}
    assert values["SLA达成"] == "—" and values["首次响应"] == "—" and values["未结"] == "0（无）"


async def test_the_card_shows_the_figures(engine: AsyncEngine) -> None:
    card = build(
        {"builder": "summary", "args": await figures(engine, "today")},
        key="k",
        secret=Signer(b"s", "wecom:m", 0),
    )
    assert card.title == "服务统计 · 今天" and card.buttons == ()
    values = {x.label: x.value for x in card.fields}
    assert values["新建"] == "3" and values["关闭"] == "3" and values["超期"] == "2"
    assert values["未结"] == "4（待派单 1，处理中 1，等待备件 1，已完工 1）"
    assert values["首次响应"] == "33分"  # 2000 s
    assert values["解决用时"] == "2小时30分"  # 9000 s
    assert values["SLA达成"] == "50%（1/2）"
    assert values["平均评分"] == "3.5（2 条）"
    assert values["备件成本"] == "¥170.00"
    assert values["工程师"] == "张伟 2，王强 1"


def digest_bus(engine: AsyncEngine, clock: FixedClock) -> MessageBus:
    return MessageBus(
        uow_factory=lambda: SqlUnitOfWork(engine),
        clock=clock,
        config=CONFIG,
        command_handlers=dict(COMMAND_HANDLERS),
        event_handlers={},
    )


async def digest_rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(db.outbox).order_by(db.outbox.c.id))
        return [dict(r._mapping) for r in rows]


async def test_daily_digest_goes_to_every_manager_once_a_day(engine: AsyncEngine) -> None:
    clock = FixedClock(sh(11, 18))
    bus = digest_bus(engine, clock)
    system = Actor.system()
    assert await bus.handle(SendDailyDigest(actor=system, source="SendDailyDigest:20250611")) == 2
    rows = await digest_rows(engine)
    assert sorted((r["platform"], r["user_id"]) for r in rows) == [
        ("dingtalk", "0999"),
        ("wecom", "zhaomin"),
    ]
    for row in rows:
        assert row["kind"] == "card" and row["card_key"].startswith("digest_20250611_")
        intent = row["payload"]["card"]
        assert intent["builder"] == "summary" and intent["args"]["period"] == "today"
        assert intent["args"]["closed"] == 3 and intent["args"]["end"] == "2025-06-11 18:00"
    assert len({r["card_key"] for r in rows}) == 2

    # another instance, or a second tick the same day: nothing new
    clock.advance(minutes=1)
    await bus.handle(SendDailyDigest(actor=system, source="other-instance"))
    assert len(await digest_rows(engine)) == 2

    clock.advance(days=1)
    assert await bus.handle(SendDailyDigest(actor=system, source="SendDailyDigest:20250612")) == 2
    assert len(await digest_rows(engine)) == 4

    manager = Actor(
        person_id="boss", name="赵敏", roles=frozenset({"manager"}), channel=Channel.WECOM
    )
    with pytest.raises(Forbidden):
        await bus.handle(SendDailyDigest(actor=manager))


def test_the_digest_time_is_configurable() -> None:
    assert CONFIG.reports.daily_digest_at.strftime("%H:%M") == "18:00"
    cfg = DeskConfig(reports={"daily_digest_at": "07:30"}, completion={"auto_close_days": 5})
    assert (cfg.reports.daily_digest_at.hour, cfg.reports.daily_digest_at.minute) == (7, 30)
    assert cfg.completion.auto_close_days == 5
    with pytest.raises(ValueError):
        DeskConfig(reports={"daily_digest_at": "25:00"})
