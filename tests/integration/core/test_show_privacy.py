"""查看 #n tells a customer the same for someone else's ticket as for a missing one."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.answers import answer_text
from bot.decision import Query
from core.clock import FixedClock
from core.messages import Actor, Channel
from core.settings import DeskConfig, PersonConfig
from core.tickets.commands import OpenTicket
from core.uow import SqlUnitOfWork
from webhooks.bootstrap import build_bus

T0 = datetime(2025, 6, 10, 2, 0, tzinfo=UTC)
DESK = DeskConfig(people=[PersonConfig(id="li", name="李娜", roles=["agent"])])


def customer(pid: str) -> Actor:
    return Actor(person_id=pid, name=pid, channel=Channel.WECOM)


async def test_not_found_and_not_yours_read_alike(synced_engine) -> None:
    engine = await synced_engine(DESK, T0)
    bus = build_bus(engine, DESK, FixedClock(T0))
    await bus.handle(
        OpenTicket(actor=customer("api"), requester_id="api", title="t", type="consult")
    )
    async with SqlUnitOfWork(engine) as uow:
        others = await answer_text(uow, Query("show", 1), customer("c2"), DESK)
        missing = await answer_text(uow, Query("show", 2), customer("c2"), DESK)
        staff = Actor(
            person_id="li", name="李娜", roles=frozenset({"agent"}), channel=Channel.WECOM
        )
        mine = await answer_text(uow, Query("show", 1), staff, DESK)
    assert others.replace("#1", "#n") == missing.replace("#2", "#n")
    assert "#1" in others and "#2" in missing
    assert "工单 #1" in mine
