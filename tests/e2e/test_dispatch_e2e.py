"""Dispatch in chat, on WeCom and on DingTalk: a report is dispatched by the rules to the right
engineer's card; 拒单 asks the reason and the next engineer gets a card; 抢单 (pool): the first
接单 wins and the other card says who took it; 转派; a customer's 接单 is refused politely."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.e2e.helpers import eventually, ticket_history
from tests.e2e.platforms import SeenCard, open_chat

# wang works in 华南 where asset A-1024 stands; zhang in 华东; both know 注塑机
STAFF = [
    ("zhang", "张伟", "engineer", "华东", "13800000001"),
    ("wang", "王强", "engineer", "华南", ""),
    ("li", "李娜", "agent", "", ""),
    ("boss", "赵敏", "manager", "", ""),
]
REST = """
assets:
  - {id: A-1024, name: 注塑机, region: 华南}
  - {id: B-2048, name: 注塑机, region: 华东}
  - {id: C-3000, name: 注塑机}
ticket_types:
  - key: repair
    name: 设备报修
    skills: [注塑机]
    fields:
      - {key: device, label: 设备编号, type: asset, required: true}
"""


def config(platform: str, extra: str = "") -> str:
    key = "wecom_userid" if platform == "wecom" else "dingtalk_userid"
    lines = ["people:"]
    for pid, name, role, region, phone in STAFF:
        lines.append(
            f'  - {{id: {pid}, name: {name}, roles: [{role}], region: "{region}", '
            f'skills: [注塑机], phone: "{phone}", {key}: "{pid}"}}'
        )
    return "\n".join(lines) + "\n" + REST + extra


@pytest.fixture(params=["wecom", "dingtalk"])
async def chat(request, aiohttp_client, make_settings) -> AsyncIterator[Any]:
    async with open_chat(request.param, aiohttp_client, make_settings, config(request.param)) as c:
        yield c


@pytest.fixture(params=["wecom", "dingtalk"])
async def pool_chat(request, aiohttp_client, make_settings) -> AsyncIterator[Any]:
    text = config(request.param, "assignment: {mode: pool}\n")
    async with open_chat(request.param, aiohttp_client, make_settings, text) as c:
        yield c


def assignment_cards(chat: Any, user: str) -> list[SeenCard]:
    return [
        c
        for c in chat.cards(user)
        if "接单" in c.buttons or "_assign_" in c.key or "_pool_" in c.key
    ]


async def report(chat: Any, device: str = "A-1024") -> None:
    await chat.say("kehu", f"报修 {device} 注塑机报警 E31")
    await eventually(lambda: [t for t in chat.texts("kehu") if "#1" in t])


async def ticket(chat: Any, auth: dict[str, str]) -> dict[str, Any]:
    return await (await chat.client.get("/api/v1/tickets/1", headers=auth)).json()


async def test_a_report_goes_to_the_engineer_of_its_region_and_accept_tells_the_customer(
    chat: Any, auth: dict[str, str]
) -> None:
    await report(chat, "B-2048")  # 华东: zhang
    [card] = await eventually(lambda: assignment_cards(chat, "zhang"))
    assert set(card.buttons) == {"接单", "拒单"} and "#1" in card.title
    assert assignment_cards(chat, "wang") == []
    assert await ticket_history(chat.client.app, 1) == ["opened", "status_changed:assigned"]

    await chat.click("zhang", card, "接单")
    told = await eventually(lambda: [t for t in chat.texts("kehu") if "张伟" in t])
    assert "#1" in told[0] and "13800000001" in told[0]
    await eventually(lambda: "张伟 已接单" in assignment_cards(chat, "zhang")[0].status_text)
    body = await ticket(chat, auth)
    assert body["status"] == "accepted" and body["assignee"] == "zhang"


async def test_decline_asks_the_reason_then_the_next_engineer_gets_a_card(
    chat: Any, auth: dict[str, str]
) -> None:
    await report(chat)  # A-1024 stands in 华南: wang first
    [first] = await eventually(lambda: assignment_cards(chat, "wang"))
    await chat.click("wang", first, "拒单")
    asked = await eventually(lambda: [t for t in chat.texts("wang") if "拒单原因" in t])
    assert "#1" in asked[0]
    await chat.say("wang", "不在附近")
    [second] = await eventually(lambda: assignment_cards(chat, "zhang"))
    assert set(second.buttons) == {"接单", "拒单"}
    await eventually(
        lambda: "王强 已拒单：不在附近" in assignment_cards(chat, "wang")[0].status_text
    )
    history = await ticket_history(chat.client.app, 1)
    assert history == [
        "opened",
        "status_changed:assigned",
        "declined",
        "status_changed:new",
        "status_changed:assigned",
    ]
    body = await ticket(chat, auth)
    assert body["assignee"] == "zhang"
    declined = next(h for h in body["history"] if h["action"] == "declined")
    assert declined["reason"] == "不在附近" and declined["actor"] == "wang"

    # wang's old card is pressed again: nothing changes, he is told politely
    await chat.click("wang", first, "接单")
    refused = await eventually(lambda: [t for t in chat.texts("wang") if "拒过" in t])
    assert "#1" in refused[0]
    assert (await ticket(chat, auth))["assignee"] == "zhang"


async def test_pool_first_accept_wins_and_the_other_card_says_who(
    pool_chat: Any, auth: dict[str, str]
) -> None:
    chat = pool_chat
    await report(chat, "C-3000")  # no region: both engineers are candidates
    [zhang_card] = await eventually(lambda: assignment_cards(chat, "zhang"))
    [wang_card] = await eventually(lambda: assignment_cards(chat, "wang"))
    assert zhang_card.key != wang_card.key and "抢单" in zhang_card.status_text
    assert (await ticket(chat, auth))["status"] == "new"

    await chat.click("zhang", zhang_card, "接单")
    await eventually(lambda: "已由 张伟 接单" in assignment_cards(chat, "wang")[0].status_text)
    body = await ticket(chat, auth)
    assert body["status"] == "accepted" and body["assignee"] == "zhang"

    # wang was too late: a polite reply, nothing changes
    await chat.click("wang", wang_card, "接单")
    late = await eventually(lambda: [t for t in chat.texts("wang") if "已由 张伟 接单" in t])
    assert "#1" in late[0]
    await asyncio.sleep(0.3)
    history = await ticket_history(chat.client.app, 1)
    assert history.count("status_changed:accepted") == 1
    assert (await ticket(chat, auth))["assignee"] == "zhang"


async def test_the_engineer_transfers_to_a_colleague(chat: Any, auth: dict[str, str]) -> None:
    await report(chat)
    [card] = await eventually(lambda: assignment_cards(chat, "wang"))
    await chat.click("wang", card, "接单")
    await eventually(lambda: [t for t in chat.texts("kehu") if "王强" in t])
    await chat.say("wang", "转派 #1 张伟")
    [fresh] = await eventually(lambda: assignment_cards(chat, "zhang"))
    assert set(fresh.buttons) == {"接单", "拒单"}
    told = await eventually(lambda: [t for t in chat.texts("wang") if "转派给 张伟" in t])
    assert "#1" in told[0]
    history = await ticket_history(chat.client.app, 1)
    assert history[-2:] == ["transferred", "status_changed:assigned"]
    assert (await ticket(chat, auth))["assignee"] == "zhang"

    await chat.say("li", "转派 #1 小明")  # an agent, an unknown name: a clear answer
    unknown = await eventually(lambda: [t for t in chat.texts("li") if "小明" in t])
    assert "找不到" in unknown[0] and "#1" in unknown[0]
    assert (await ticket(chat, auth))["assignee"] == "zhang"


async def test_a_customer_cannot_accept(chat: Any, auth: dict[str, str]) -> None:
    await report(chat)
    await eventually(lambda: assignment_cards(chat, "wang"))
    before = await ticket_history(chat.client.app, 1)
    await chat.say("kehu", "接单 #1")
    refused = await eventually(lambda: [t for t in chat.texts("kehu") if "工程师" in t])
    assert "#1" in refused[-1] and "抱歉" in refused[-1]
    assert await ticket_history(chat.client.app, 1) == before
    body = await ticket(chat, auth)
    assert body["status"] == "assigned" and body["assignee"] == "wang"
