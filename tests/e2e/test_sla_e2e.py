"""SLA in chat on both platforms, with a 24x7 calendar and one-minute targets: the warning card
reaches the assignee and the breach card the assignee and the manager, each once; 知道了
updates the card and is recorded; the REST ticket shows ``sla.targets``. The app runs on a clock
the test moves; the SLA scan is the real scheduler job, called as APScheduler would call it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from core.clock import FixedClock
from tests.e2e.helpers import eventually
from tests.e2e.platforms import open_chat, people_yaml
from webhooks.keys import SERVICES
from webhooks.scheduler import sla_scan

STAFF = [("zhang", "张伟", "engineer"), ("li", "李娜", "agent"), ("boss", "陈静", "manager")]
DAYS = ", ".join(f'{d}: ["00:00-24:00"]' for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
EXTRA = f"""
assignment: {{auto_dispatch: false}}
sla: {{scan_seconds: 3600}}
calendars:
  - {{key: always, hours: {{{DAYS}}}}}
ticket_types:
  - key: repair
    name: 设备报修
    sla:
      normal: {{calendar: always, response_minutes: 1, resolve_minutes: 3, warn_percent: 50}}
"""


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime.now(UTC))


@pytest.fixture(params=["wecom", "dingtalk"])
async def chat(request, aiohttp_client, make_settings, clock) -> AsyncIterator[Any]:
    config = people_yaml(STAFF, request.param) + EXTRA
    async with open_chat(request.param, aiohttp_client, make_settings, config, clock=clock) as c:
        yield c


def sla_cards(chat: Any, user: str, word: str, *, open_only: bool = True) -> list[Any]:
    return [
        c for c in chat.cards(user) if word in c.title and ("知道了" in c.buttons or not open_only)
    ]


def shows(chat: Any, user: str, word: str, text: str) -> bool:
    return any(text in c.status_text for c in sla_cards(chat, user, word, open_only=False))


async def ticket(chat: Any, auth: dict[str, str]) -> dict[str, Any]:
    return await (await chat.client.get("/api/v1/tickets/1", headers=auth)).json()


async def test_warning_then_breach_reach_the_right_people_once_and_know_it_updates(
    chat: Any, clock: FixedClock, auth: dict[str, str]
) -> None:
    services = chat.client.app[SERVICES]
    await chat.say("kehu", "报修 注塑机报警 E31")
    await eventually(lambda: [t for t in chat.texts("kehu") if "#1" in t])
    r = await chat.client.post("/api/v1/tickets/1/assign", json={"assignee": "zhang"}, headers=auth)
    assert r.status == 200

    clock.advance(seconds=20)
    await sla_scan(services)
    clock.advance(seconds=15)  # 35 s: past the 50 % warn time of the 1-minute response target
    await sla_scan(services)
    [warning] = await eventually(lambda: sla_cards(chat, "zhang", "预警"))
    assert "#1" in warning.title and "剩余" in warning.status_text
    assert "工作时间" in warning.status_text
    for user in ("li", "boss"):
        assert sla_cards(chat, user, "预警") == []

    clock.advance(seconds=30)  # 65 s: the response is late
    await sla_scan(services)
    await sla_scan(services)
    [breach] = await eventually(lambda: sla_cards(chat, "zhang", "SLA 超时"))
    [manager_breach] = await eventually(lambda: sla_cards(chat, "boss", "SLA 超时"))
    assert "#1" in breach.title and "#1" in manager_breach.title
    assert sla_cards(chat, "li", "SLA 超时") == []
    assert len(sla_cards(chat, "zhang", "预警")) == 1  # nothing sent twice

    await chat.click("zhang", warning, "知道了")
    await eventually(lambda: shows(chat, "zhang", "预警", "张伟 已知悉"))
    await chat.click("boss", manager_breach, "知道了")
    await eventually(lambda: shows(chat, "boss", "SLA 超时", "陈静 已知悉"))

    await chat.say("zhang", "查看 #1")
    shown = await eventually(lambda: [t for t in chat.texts("zhang") if "响应时限" in t])
    assert "已超时" in shown[0] and "解决时限" in shown[0] and "剩余" in shown[0]
    assert "工作时间" in shown[0]

    body = await ticket(chat, auth)
    response = next(t for t in body["sla"]["targets"] if t["name"] == "response")
    assert response["met"] is False and response["paused"] is False
    assert response["warned_at"] and response["breached_at"]
    assert response["due_at"] < response["breached_at"]
    assert {t["name"] for t in body["sla"]["targets"]} == {"response", "resolve"}
    acks = [h for h in body["history"] if h["action"] == "sla_acknowledged"]
    assert {(h["actor"], h["kind"]) for h in acks} == {("zhang", "warning"), ("boss", "breach")}
    warned = [h["target"] for h in body["history"] if h["action"] == "sla_warned"]
    breached = [h["target"] for h in body["history"] if h["action"] == "sla_breached"]
    # the resolve warning (due at 90 s) fell within a minute of the response warning: one card
    assert sorted(warned) == ["resolve", "response"] and breached == ["response"]
    assert "个工单" not in warning.title and "响应、解决即将超时" in warning.status_text


async def test_accepting_in_time_meets_the_response_and_nothing_is_sent(
    chat: Any, clock: FixedClock, auth: dict[str, str]
) -> None:
    services = chat.client.app[SERVICES]
    await chat.say("kehu", "报修 注塑机报警 E31")
    await eventually(lambda: [t for t in chat.texts("kehu") if "#1" in t])
    await chat.client.post("/api/v1/tickets/1/assign", json={"assignee": "zhang"}, headers=auth)
    clock.advance(seconds=20)
    await chat.say("zhang", "接单 #1")
    await eventually(lambda: [t for t in chat.texts("kehu") if "张伟" in t])
    clock.advance(seconds=70)
    await sla_scan(services)
    body = await ticket(chat, auth)
    response = next(t for t in body["sla"]["targets"] if t["name"] == "response")
    assert response["met"] is True and response["warned_at"] is None
    resolve = next(t for t in body["sla"]["targets"] if t["name"] == "resolve")
    assert resolve["met"] is None and resolve["warned_at"]  # 90 s of 180 used: warned
    [warning] = await eventually(lambda: sla_cards(chat, "zhang", "预警"))
    assert "解决" in warning.status_text and "响应" not in warning.status_text
    assert sla_cards(chat, "boss", "SLA 超时") == []
