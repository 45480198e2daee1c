"""Where a person is reached (issue #8 item 7), on the real database through the bus.

One rule (core/notify.py) for every kind of notice: the person's ``prefer_platform`` from the
config; else the platform the ticket came from; else the platform the person last used; else
the first one they are known on. Everyone here is known on both platforms, and the
alphabetical fallback would pick DingTalk, so a WeCom ticket shows the rule at work.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core import db
from core.bus import MessageBus
from core.clock import FixedClock
from core.messages import Actor, Channel
from core.parts.commands import DecidePartsRequest, RequestParts
from core.people.directory import identify
from core.reports.commands import SendDailyDigest
from core.settings import DeskConfig, PartConfig, PersonConfig
from core.sla.commands import ScanSla
from core.tickets.commands import AcceptTicket, AssignTicket, CompleteTicket, OpenTicket
from core.uow import SqlUnitOfWork
from webhooks.bootstrap import build_bus, sync_directory

T0 = datetime(2025, 6, 10, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def staff(pid: str, role: str, **extra: Any) -> PersonConfig:
    return PersonConfig(
        id=pid, name=pid, roles=[role], wecom_userid=f"{pid}wx", dingtalk_userid=f"{pid}dt", **extra
    )


PEOPLE = [
    staff("zhang", "engineer"),
    staff("ku", "stock_keeper"),
    staff("boss", "manager"),
    staff("liu", "manager", prefer_platform="wecom"),
    staff("li", "agent"),
]
DESK = DeskConfig(
    people=PEOPLE,
    parts=[PartConfig(sku="LX-01", name="滤芯", stock=10, unit_cost=85.0)],
    assignment={"auto_dispatch": False},
).with_platforms(("wecom", "dingtalk"))


@pytest.fixture
async def engine(synced_engine) -> AsyncEngine:
    return await synced_engine(DESK, T0)


@pytest.fixture
def bus(engine: AsyncEngine) -> MessageBus:
    return build_bus(engine, DESK, FixedClock(T0))


async def seen_on(engine: AsyncEngine, platform: str, user_id: str) -> Actor:
    """The person writes to the bot on ``platform`` (the inbox worker's first step)."""
    async with SqlUnitOfWork(engine) as uow:
        person = await identify(
            uow.people, uow.conn, platform=platform, user_id=user_id, display_name="", at=T0
        )
        await uow.commit()
    return person.actor(Channel(platform))


async def sent(engine: AsyncEngine, person: str) -> list[tuple[str, str]]:
    """(platform, what) of everything queued for ``person`` on either platform, oldest first."""
    async with engine.connect() as conn:
        rows = await conn.execute(select(db.outbox).order_by(db.outbox.c.id))
        out = []
        for r in rows:
            if r.user_id.removesuffix("wx").removesuffix("dt") != person:
                continue
            what = r.payload["card"]["builder"] if r.kind != "text" else "text"
            out.append((r.platform, what))
        return out


async def wecom_ticket(bus: MessageBus, engine: AsyncEngine) -> tuple[int, Actor]:
    """A customer known on both platforms reports on WeCom; zhang last used DingTalk."""
    await seen_on(engine, "dingtalk", "kehudt")
    customer = await seen_on(engine, "wecom", "kehuwx")
    async with SqlUnitOfWork(engine) as uow:  # the same customer, also known on DingTalk
        await uow.people.link("dingtalk", "kehudt", customer.person_id, display_name="", at=T0)
        await uow.commit()
    ticket = await bus.handle(
        OpenTicket(actor=customer, requester_id=customer.person_id, title="漏油", type="consult")
    )
    await seen_on(engine, "dingtalk", "zhangdt")
    return ticket.id, customer


async def test_every_notice_about_a_wecom_ticket_goes_to_wecom(
    bus: MessageBus, engine: AsyncEngine
) -> None:
    t, _ = await wecom_ticket(bus, engine)
    li = await seen_on(engine, "dingtalk", "lidt")
    zhang = await seen_on(engine, "dingtalk", "zhangdt")
    await seen_on(engine, "dingtalk", "kudt")

    await bus.handle(AssignTicket(actor=li, ticket_id=t, assignee_id="zhang"))  # assignment
    await bus.handle(AcceptTicket(actor=zhang, ticket_id=t))  # the customer is told
    await bus.handle(RequestParts(actor=zhang, ticket_id=t, lines=(("LX-01", 1),)))  # approval
    ku = await seen_on(engine, "dingtalk", "kudt")
    await bus.handle(DecidePartsRequest(actor=ku, request_id=1, approve=True))  # its result
    await bus.handle(CompleteTicket(actor=zhang, ticket_id=t, summary="换了滤芯"))  # completion

    assert ("wecom", "assignment") in await sent(engine, "zhang")
    assert ("wecom", "parts_approval") in await sent(engine, "ku")
    for who in ("zhang", "ku", "kehu"):
        platforms = {p for p, _ in await sent(engine, who)}
        assert platforms == {"wecom"}, (who, await sent(engine, who))
    assert ("wecom", "completion") in await sent(engine, "kehu")


async def test_without_a_ticket_platform_the_last_used_one_wins(
    bus: MessageBus, engine: AsyncEngine
) -> None:
    api = Actor(person_id="api", name="API", roles=frozenset({"agent"}), channel=Channel.API)
    ticket = await bus.handle(OpenTicket(actor=api, requester_id="api", title="t", type="consult"))
    await seen_on(engine, "wecom", "zhangwx")  # alphabetical order alone would say DingTalk
    await bus.handle(AssignTicket(actor=api, ticket_id=ticket.id, assignee_id="zhang"))
    assert await sent(engine, "zhang") == [("wecom", "assignment")]

    await seen_on(engine, "wecom", "bosswx")  # the digest is about no ticket
    await bus.handle(SendDailyDigest(actor=Actor.system(), source="digest:1"))
    assert await sent(engine, "boss") == [("wecom", "summary")]


async def test_prefer_platform_in_the_config_overrides_both(
    bus: MessageBus, engine: AsyncEngine
) -> None:
    t, _ = await wecom_ticket(bus, engine)
    await seen_on(engine, "dingtalk", "liudt")
    await bus.handle(SendDailyDigest(actor=Actor.system(), source="digest:2"))
    assert await sent(engine, "liu") == [("wecom", "summary")]

    desk = DESK.model_copy(
        update={"people": [p.model_copy(update={"prefer_platform": "dingtalk"}) for p in PEOPLE]}
    )
    await sync_directory(engine, desk, T0)
    li = await seen_on(engine, "wecom", "liwx")
    await bus.handle(AssignTicket(actor=li, ticket_id=t, assignee_id="zhang"))
    assert await sent(engine, "zhang") == [("dingtalk", "assignment")]


async def test_sla_cards_about_a_wecom_ticket_go_to_wecom(engine: AsyncEngine) -> None:
    clock = FixedClock(T0)
    bus = build_bus(engine, DESK, clock)
    t, _ = await wecom_ticket(bus, engine)
    li = await seen_on(engine, "dingtalk", "lidt")
    await bus.handle(AssignTicket(actor=li, ticket_id=t, assignee_id="zhang"))
    for _ in range(3):  # warnings, then breaches, as the clock runs past the due times
        clock.advance(days=3)
        while await bus.handle(ScanSla(actor=Actor.system())):
            pass
    sla = [(p, what) for p, what in await sent(engine, "zhang") if what.startswith("sla_")]
    assert sla and {p for p, _ in sla} == {"wecom"}, await sent(engine, "zhang")
