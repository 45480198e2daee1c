"""ScanAutoClose on the real database (SQLite, and PostgreSQL when configured): only resolved
tickets past the waiting days close, each once, with the notice and the card update queued."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core import db
from core.bus import MessageBus
from core.clock import FixedClock
from core.messages import Actor, Channel
from core.people.model import Person, PersonKind
from core.settings import DeskConfig
from core.tickets import completion
from core.tickets.commands import ScanAutoClose
from core.tickets.model import Ticket
from core.tickets.workflow import Status
from core.uow import SqlUnitOfWork
from webhooks.bootstrap import migrate

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 6, 20, 9, 0, tzinfo=SH)
ZHANG = Person(
    id="zhang",
    name="张伟",
    kind=PersonKind.STAFF,
    roles=frozenset({"engineer"}),
    identities={"wecom": "zhangwei"},
)
CUSTOMER = Person(id="c1", name="王先生", identities={"dingtalk": "kehu"})


def resolved(tid: int, days_ago: float, *, close: bool = False) -> Ticket:
    at = NOW - timedelta(days=days_ago)
    t = Ticket(
        id=tid,
        type="repair",
        title=f"报警 {tid}",
        requester_id="c1",
        assignee_id="zhang",
        status=Status.ACCEPTED,
        channel="dingtalk",
        created_at=at - timedelta(hours=5),
        updated_at=at,
    )
    engineer = ZHANG.actor(Channel.WECOM)
    t.move_to(Status.RESOLVED, actor=engineer, at=at, summary="换滤芯", photos=[])
    if close:
        customer = CUSTOMER.actor(Channel.DINGTALK)
        t.move_to(Status.CLOSED, actor=customer, at=at, confirmed=True)
    return t


@pytest.fixture
async def engine(each_backend_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.make_engine(each_backend_url)
    await migrate(engine)
    async with SqlUnitOfWork(engine) as uow:
        for person in (ZHANG, CUSTOMER):
            await uow.people.upsert(person, at=NOW)
        for t in (resolved(1, 3.5), resolved(2, 1), resolved(3, 10, close=True), resolved(4, 3)):
            await uow.tickets.add(t)
        await uow.commit()
    yield engine
    await engine.dispose()


async def test_scan_closes_what_waited_long_enough_once(engine: AsyncEngine) -> None:
    bus = MessageBus(
        uow_factory=lambda: SqlUnitOfWork(engine),
        clock=FixedClock(NOW),
        config=DeskConfig(),
        command_handlers=dict(completion.COMMAND_HANDLERS),
        event_handlers={k: list(v) for k, v in completion.EVENT_HANDLERS.items()},
    )
    assert await bus.handle(ScanAutoClose(actor=Actor.system(), source="scan:1")) == 2
    async with engine.connect() as conn:
        statuses = dict((await conn.execute(select(db.tickets.c.id, db.tickets.c.status))).all())
        out = [dict(r._mapping) for r in await conn.execute(select(db.outbox))]
    assert statuses == {1: "closed", 2: "resolved", 3: "closed", 4: "closed"}
    assert sorted((r["kind"], r["card_key"], r["ticket_id"]) for r in out) == [
        ("card_update", "t1_done_1", 1),
        ("card_update", "t4_done_1", 4),
        ("text", "", 1),
        ("text", "", 4),
    ]
    assert {(r["platform"], r["user_id"]) for r in out} == {("dingtalk", "kehu")}
    assert all("自动关闭" in r["payload"]["text"] for r in out if r["kind"] == "text")

    # the next tick finds nothing to do
    assert await bus.handle(ScanAutoClose(actor=Actor.system(), source="scan:2")) == 0
    async with engine.connect() as conn:
        assert len((await conn.execute(select(db.outbox))).all()) == 4
        history = (
            await conn.execute(
                select(db.ticket_history.c.actor_id, db.ticket_history.c.data)
                .where(db.ticket_history.c.ticket_id == 1)
                .order_by(db.ticket_history.c.id)
            )
        ).all()
    assert [h.data.get("to") for h in history] == ["resolved", "closed"]
    assert history[-1].actor_id == "system" and history[-1].data["auto"] is True
