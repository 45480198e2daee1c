"""Timers in chat, on both platforms: an assignment not accepted in time goes to the next
engineer; a resolved ticket nobody confirms closes by itself. The app runs on a clock the test
moves; the scheduler's scan is the real job, called as APScheduler would call it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from core.clock import FixedClock
from tests.e2e.helpers import eventually, ticket_history
from tests.e2e.platforms import open_chat, people_yaml
from webhooks.keys import SERVICES
from webhooks.scheduler import scan

STAFF = [("zhang", "张伟", "engineer"), ("wang", "王强", "engineer"), ("li", "李娜", "agent")]
EXTRA = """
assignment: {accept_timeout_minutes: 15}
completion: {auto_close_days: 3}
"""


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime.now(UTC))


@pytest.fixture(params=["wecom", "dingtalk"])
async def chat(request, aiohttp_client, make_settings, clock) -> AsyncIterator:
    config = people_yaml(STAFF, request.param) + EXTRA
    async with open_chat(request.param, aiohttp_client, make_settings, config, clock=clock) as c:
        yield c


def cards_with(chat, user: str, button: str) -> list:
    return [c for c in chat.cards(user) if button in c.buttons]


async def test_an_assignment_not_accepted_in_time_goes_to_the_next_engineer(chat, clock) -> None:
    await chat.say("kehu", "报修 注塑机漏油，设备 A-1024")
    first = await eventually(lambda: [u for u in ("zhang", "wang") if cards_with(chat, u, "接单")])
    first_engineer = first[0]
    other = "wang" if first_engineer == "zhang" else "zhang"
    services = chat.client.app[SERVICES]

    clock.advance(minutes=10)
    await scan(services)
    assert cards_with(chat, other, "接单") == []  # not yet: 10 of 15 minutes

    clock.advance(minutes=6)
    await scan(services)
    await eventually(lambda: cards_with(chat, other, "接单"))
    history = await ticket_history(chat.client.app, 1)
    assert history.count("status_changed:assigned") == 2
    await scan(services)  # a second scan in the same slot changes nothing
    assert (await ticket_history(chat.client.app, 1)).count("status_changed:assigned") == 2


async def test_a_resolution_nobody_confirms_closes_after_three_days(chat, clock, auth) -> None:
    await chat.say("kehu", "报修 注塑机漏油，设备 A-1024")
    engineer = (
        await eventually(lambda: [u for u in ("zhang", "wang") if cards_with(chat, u, "接单")])
    )[0]
    await chat.say(engineer, "接单 #1")
    await eventually(lambda: [t for t in chat.texts("kehu") if "已由工程师" in t or "接单" in t])
    await chat.say(engineer, "完工 #1 更换密封圈")
    await eventually(lambda: cards_with(chat, "kehu", "确认完成"))
    services = chat.client.app[SERVICES]

    clock.advance(days=2, hours=23)
    await scan(services)
    ticket = await (await chat.client.get("/api/v1/tickets/1", headers=auth)).json()
    assert ticket["status"] == "resolved"

    clock.advance(hours=2)
    await scan(services)
    ticket = await (await chat.client.get("/api/v1/tickets/1", headers=auth)).json()
    assert ticket["status"] == "closed"
    assert ticket["history"][-1]["actor"] == "system"
    notice = await eventually(lambda: [t for t in chat.texts("kehu") if "自动关闭" in t])
    assert "#1" in notice[0]
