"""Spare parts through the bus on the real database (SQLite, or PostgreSQL when configured):
requests by SKU or name, approval cards to every stock keeper, the first decision wins, stock
is deducted atomically or not at all, low-stock warnings, rejection with a reason."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core import db
from core.bus import MessageBus
from core.clock import FixedClock
from core.errors import Conflict, Forbidden, InvalidTransition, ValidationFailed
from core.messages import Actor, Channel
from core.parts.commands import DecidePartsRequest, RequestParts
from core.people.directory import person_from_config
from core.settings import DeskConfig, PartConfig, PersonConfig
from core.tickets.commands import AcceptTicket, AssignTicket, OpenTicket
from webhooks.bootstrap import build_bus, migrate, sync_directory

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2025, 6, 10, 10, 0, tzinfo=SH)

PEOPLE = [
    PersonConfig(id="zhang", name="张伟", roles=["engineer"], wecom_userid="zhangwei"),
    PersonConfig(id="wang", name="王强", roles=["engineer"], dingtalk_userid="0456"),
    PersonConfig(id="li", name="李娜", roles=["agent"], wecom_userid="lina"),
    PersonConfig(id="ku1", name="库管老周", roles=["stock_keeper"], wecom_userid="kuzhou"),
    PersonConfig(id="ku.2", name="库管小陈", roles=["stock_keeper"], dingtalk_userid="0789"),
]
PARTS = [
    PartConfig(sku="LX-01", name="滤芯", stock=10, unit_cost=85.0, min_stock=3),
    PartConfig(sku="LX-02", name="空气滤芯", stock=5, unit_cost=40.0),
    PartConfig(sku="MF-03", name="密封圈", stock=2, unit_cost=12.5),
    PartConfig(sku="MF-04", name="密封垫", stock=20, unit_cost=3.0),
]
DESK = DeskConfig(people=PEOPLE, parts=PARTS)


def actor(person_id: str) -> Actor:
    cfg = next(p for p in PEOPLE if p.id == person_id)
    channel = Channel.WECOM if cfg.wecom_userid else Channel.DINGTALK
    return person_from_config(cfg).actor(channel)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.make_engine(database_url)
    await migrate(engine)
    await sync_directory(engine, DESK, T0)
    yield engine
    await engine.dispose()


@pytest.fixture
def bus(engine: AsyncEngine) -> MessageBus:
    return build_bus(engine, DESK, FixedClock(T0))


async def accepted_ticket(bus: MessageBus, engine: AsyncEngine, engineer: str = "zhang") -> int:
    ticket = await bus.handle(
        OpenTicket(actor=actor("li"), requester_id="li", title="注塑机漏油", type="consult")
    )
    async with engine.connect() as conn:
        row = (await conn.execute(select(db.tickets).where(db.tickets.c.id == ticket.id))).one()
    if row.assignee_id != engineer:  # not already dispatched to them by the assignment rules
        await bus.handle(AssignTicket(actor=actor("li"), ticket_id=ticket.id, assignee_id=engineer))
    await bus.handle(AcceptTicket(actor=actor(engineer), ticket_id=ticket.id))
    return ticket.id


async def rows(engine: AsyncEngine, table: Any, *where: Any) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        result = await conn.execute(select(table).where(*where))
        return [dict(r._mapping) for r in result]


async def stock(engine: AsyncEngine) -> dict[str, int]:
    return {r["sku"]: r["stock"] for r in await rows(engine, db.parts)}


async def ticket_row(engine: AsyncEngine, ticket_id: int) -> dict[str, Any]:
    return (await rows(engine, db.tickets, db.tickets.c.id == ticket_id))[0]


async def history(engine: AsyncEngine, ticket_id: int) -> list[str]:
    found = await rows(engine, db.ticket_history, db.ticket_history.c.ticket_id == ticket_id)
    return [r["action"] + (f":{r['data']['to']}" if "to" in r["data"] else "") for r in found]


async def outbox(engine: AsyncEngine, **match: Any) -> list[dict[str, Any]]:
    return [
        r
        for r in await rows(engine, db.outbox)
        if all(r[k] == v for k, v in match.items())
        and (r["kind"] == "text" or r["payload"]["card"]["builder"] == "parts_approval")
    ]


def request(ticket_id: int, *lines: tuple[str, int], who: str = "zhang") -> RequestParts:
    return RequestParts(actor=actor(who), ticket_id=ticket_id, lines=lines)


def decide(request_id: int, who: str, approve: bool = True, reason: str = "") -> Any:
    return DecidePartsRequest(
        actor=actor(who), request_id=request_id, approve=approve, reason=reason
    )


async def test_request_by_sku_and_name_sends_a_card_to_every_keeper(
    bus: MessageBus, engine: AsyncEngine
) -> None:
    t = await accepted_ticket(bus, engine)
    req = await bus.handle(request(t, ("lx-01", 2), ("密封圈", 1), ("LX-01", 1)))
    assert [(x.sku, x.name, x.qty, x.unit_cost) for x in req.lines] == [
        ("LX-01", "滤芯", 3, 85.0),
        ("MF-03", "密封圈", 1, 12.5),
    ]
    assert req.cost == 267.5 and req.status == "pending"
    assert (await ticket_row(engine, t))["status"] == "waiting_parts"
    assert (await history(engine, t))[-2:] == ["parts_requested", "status_changed:waiting_parts"]
    cards = await outbox(engine, kind="card", ticket_id=t)
    assert {(c["platform"], c["user_id"], c["card_key"]) for c in cards} == {
        ("wecom", "kuzhou", f"t{t}_parts_{req.id}_ku1"),
        ("dingtalk", "0789", f"t{t}_parts_{req.id}_ku-2-" + _sha6("ku.2")),
    }
    args = cards[0]["payload"]["card"]["args"]
    assert args["request_id"] == req.id and args["cost"] == 267.5
    told = await outbox(engine, kind="text", user_id="zhangwei")
    assert any("申请单" in r["payload"]["text"] and f"#{t}" in r["payload"]["text"] for r in told)
    # stock is only taken on approval
    assert (await stock(engine))["LX-01"] == 10


def _sha6(text: str) -> str:
    import hashlib

    return hashlib.sha1(text.encode()).hexdigest()[:6]


async def test_a_name_matching_several_parts_or_none_is_refused_with_the_options(
    bus: MessageBus, engine: AsyncEngine
) -> None:
    t = await accepted_ticket(bus, engine)
    with pytest.raises(ValidationFailed) as ambiguous:
        await bus.handle(request(t, ("密封", 1)))
    assert f"#{t}" in ambiguous.value.message
    assert "MF-03 密封圈" in ambiguous.value.message and "MF-04 密封垫" in ambiguous.value.message
    with pytest.raises(ValidationFailed) as unknown:
        await bus.handle(request(t, ("LX-01", 1), ("齿轮", 2)))
    assert "齿轮" in unknown.value.message and "LX-02 空气滤芯" in unknown.value.message
    # the exact name wins over a longer name containing it; a unique fragment is enough
    req = await bus.handle(request(t, ("滤芯", 1), ("空气", 1)))
    assert [x.sku for x in req.lines] == ["LX-01", "LX-02"]
    assert len(await rows(engine, db.part_requests)) == 1


async def test_only_the_assigned_engineer_on_an_accepted_ticket_may_request(
    bus: MessageBus, engine: AsyncEngine
) -> None:
    t = await accepted_ticket(bus, engine)
    with pytest.raises(Forbidden):
        await bus.handle(request(t, ("LX-01", 1), who="wang"))
    with pytest.raises(Forbidden):
        await bus.handle(request(t, ("LX-01", 1), who="ku1"))
    await bus.handle(request(t, ("LX-01", 1)))
    with pytest.raises(InvalidTransition) as again:  # already waiting for parts
        await bus.handle(request(t, ("LX-01", 1)))
    assert f"#{t}" in again.value.message
    assert len(await rows(engine, db.part_requests)) == 1


async def test_approval_deducts_stock_records_cost_and_updates_every_card(
    bus: MessageBus, engine: AsyncEngine
) -> None:
    t = await accepted_ticket(bus, engine)
    req = await bus.handle(request(t, ("LX-01", 2), ("MF-03", 1)))
    done = await bus.handle(decide(req.id, "ku1"))
    assert done.status == "approved" and done.decided_by == "ku1"
    assert await stock(engine) == {"LX-01": 8, "LX-02": 5, "MF-03": 1, "MF-04": 20}
    row = await ticket_row(engine, t)
    assert row["status"] == "accepted" and row["parts_cost"] == 182.5
    assert (await history(engine, t))[-2:] == ["parts_approved", "status_changed:accepted"]
    updates = await outbox(engine, kind="card_update", ticket_id=t)
    assert {u["user_id"] for u in updates} == {"kuzhou", "0789"}
    assert all("库管老周 已同意" in u["payload"]["card"]["status"] for u in updates)
    told = [r["payload"]["text"] for r in await outbox(engine, kind="text", user_id="zhangwei")]
    assert any("已由 库管老周 同意" in x and "¥182.50" in x for x in told)

    # a second decision changes nothing and says who decided
    with pytest.raises(Conflict) as second:
        await bus.handle(decide(req.id, "ku.2", approve=False, reason="太贵"))
    assert "库管老周" in second.value.message and f"#{t}" in second.value.message
    assert (await stock(engine))["LX-01"] == 8
    assert (await ticket_row(engine, t))["parts_cost"] == 182.5


async def test_two_keepers_approving_at_once_one_wins(bus: MessageBus, engine: AsyncEngine) -> None:
    t = await accepted_ticket(bus, engine)
    req = await bus.handle(request(t, ("LX-01", 4)))
    results = await asyncio.gather(
        bus.handle(decide(req.id, "ku1")),
        bus.handle(decide(req.id, "ku.2")),
        return_exceptions=True,
    )
    wins = [r for r in results if not isinstance(r, BaseException)]
    losses = [r for r in results if isinstance(r, BaseException)]
    assert len(wins) == 1 and len(losses) == 1
    assert isinstance(losses[0], Conflict), losses[0]
    assert (await stock(engine))["LX-01"] == 6
    assert (await ticket_row(engine, t))["parts_cost"] == 340.0
    assert (await history(engine, t)).count("parts_approved") == 1


async def test_short_stock_is_refused_and_changes_nothing(
    bus: MessageBus, engine: AsyncEngine
) -> None:
    t = await accepted_ticket(bus, engine)
    req = await bus.handle(request(t, ("LX-01", 2), ("MF-03", 3)))
    before = await outbox(engine)
    with pytest.raises(Conflict) as short:
        await bus.handle(decide(req.id, "ku1"))
    message = short.value.message
    assert "MF-03 密封圈 需要 3，库存 2" in message and f"#{t}" in message
    assert "LX-01" not in message
    assert (await stock(engine))["LX-01"] == 10 and (await stock(engine))["MF-03"] == 2
    assert (await rows(engine, db.part_requests))[0]["status"] == "pending"
    row = await ticket_row(engine, t)
    assert row["status"] == "waiting_parts" and row["parts_cost"] == 0
    assert len(await outbox(engine)) == len(before)
    # still pending: another keeper may reject it
    await bus.handle(decide(req.id, "ku.2", approve=False, reason="密封圈缺货"))
    assert (await ticket_row(engine, t))["status"] == "accepted"


async def test_reject_needs_a_reason_and_tells_the_engineer(
    bus: MessageBus, engine: AsyncEngine
) -> None:
    t = await accepted_ticket(bus, engine)
    req = await bus.handle(request(t, ("LX-02", 1)))
    with pytest.raises(ValidationFailed):
        await bus.handle(decide(req.id, "ku1", approve=False, reason="  "))
    assert (await rows(engine, db.part_requests))[0]["status"] == "pending"
    done = await bus.handle(decide(req.id, "ku1", approve=False, reason="型号不对"))
    assert done.status == "rejected" and done.reason == "型号不对"
    row = await ticket_row(engine, t)
    assert row["status"] == "accepted" and row["parts_cost"] == 0
    assert (await stock(engine))["LX-02"] == 5
    assert (await history(engine, t))[-2:] == ["parts_rejected", "status_changed:accepted"]
    told = [r["payload"]["text"] for r in await outbox(engine, kind="text", user_id="zhangwei")]
    assert any("驳回" in x and "型号不对" in x and f"#{t}" in x for x in told)
    updates = await outbox(engine, kind="card_update", ticket_id=t)
    assert len(updates) == 2
    assert all("已驳回：型号不对" in u["payload"]["card"]["status"] for u in updates)


async def test_only_stock_keepers_decide(bus: MessageBus, engine: AsyncEngine) -> None:
    t = await accepted_ticket(bus, engine)
    req = await bus.handle(request(t, ("LX-01", 1)))
    for who in ("zhang", "li"):
        with pytest.raises(Forbidden):
            await bus.handle(decide(req.id, who))
    assert (await stock(engine))["LX-01"] == 10


async def test_stock_below_minimum_warns_the_keepers_once_per_crossing(
    bus: MessageBus, engine: AsyncEngine
) -> None:
    first = await accepted_ticket(bus, engine)
    req = await bus.handle(request(first, ("LX-01", 7)))  # 10 -> 3: not below min_stock 3
    await bus.handle(decide(req.id, "ku1"))
    assert not [r for r in await outbox(engine, kind="text") if "库存预警" in r["payload"]["text"]]
    second = await accepted_ticket(bus, engine, "wang")
    req2 = await bus.handle(request(second, ("LX-01", 1), who="wang"))  # 3 -> 2: crosses
    await bus.handle(decide(req2.id, "ku.2"))
    warned = [r for r in await outbox(engine, kind="text") if "库存预警" in r["payload"]["text"]]
    assert {r["user_id"] for r in warned} == {"kuzhou", "0789"}
    assert "LX-01 滤芯 剩余 2" in warned[0]["payload"]["text"]
    third = await accepted_ticket(bus, engine)
    req3 = await bus.handle(request(third, ("LX-01", 1)))  # 2 -> 1: already below
    await bus.handle(decide(req3.id, "ku1"))
    again = [r for r in await outbox(engine, kind="text") if "库存预警" in r["payload"]["text"]]
    assert len(again) == 2
    assert (await stock(engine))["LX-01"] == 1
