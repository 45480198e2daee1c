"""The whole service-desk journey in chat, once per platform.

report → dispatch → decline → dispatch again → accept → parts approved → done → confirm →
rate 5 → the manager's summary shows it. Every step is driven by real (encrypted / signed)
callbacks; assertions read what the fake platform received and the ticket's history.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from tests.e2e.helpers import eventually, ticket_history
from tests.e2e.platforms import SeenCard, open_chat, people_yaml

STAFF = [
    ("zhang", "张伟", "engineer"),
    ("wang", "王强", "engineer"),
    ("zhao", "赵敏", "stock_keeper"),
    ("chen", "陈总", "manager"),
    ("li", "李娜", "agent"),
]
EXTRA = """
assets:
  - {id: A-1024, name: 海天注塑机, region: 华东}
parts:
  - {sku: LX-01, name: 滤芯, stock: 10, unit_cost: 85.0, min_stock: 2}
"""


@pytest.fixture(params=["wecom", "dingtalk"])
async def chat(request, aiohttp_client, make_settings) -> AsyncIterator:
    async with open_chat(
        request.param, aiohttp_client, make_settings, people_yaml(STAFF, request.param) + EXTRA
    ) as c:
        yield c


def card_with(chat, user: str, button: str) -> list[SeenCard]:
    return [c for c in chat.cards(user) if button in c.buttons]


async def test_the_whole_journey(chat, auth) -> None:
    # 1. the customer reports; the bot opens #1 and dispatches it to an engineer
    await chat.say("kehu", "报修 A-1024 注塑机报警 E31，无法启动")
    opened = await eventually(lambda: [t for t in chat.texts("kehu") if "#1" in t])
    assert "设备报修" in opened[0]
    first = await eventually(
        lambda: [(u, c) for u in ("zhang", "wang") for c in card_with(chat, u, "接单")]
    )
    first_engineer, first_card = first[0]
    other = "wang" if first_engineer == "zhang" else "zhang"
    assert set(first_card.buttons) == {"接单", "拒单"} and "#1" in first_card.title

    # 2. the first engineer declines with a reason; the other engineer gets the card
    await chat.click(first_engineer, first_card, "拒单")
    await eventually(lambda: [t for t in chat.texts(first_engineer) if "原因" in t])
    await chat.say(first_engineer, "不在附近")
    second_card = (await eventually(lambda: card_with(chat, other, "接单")))[0]
    await eventually(lambda: any("已拒单" in c.status_text for c in chat.cards(first_engineer)))

    # 3. the second engineer accepts; the customer is told who is coming
    await chat.click(other, second_card, "接单")
    name = {"zhang": "张伟", "wang": "王强"}[other]
    await eventually(lambda: [t for t in chat.texts("kehu") if name in t and "#1" in t])
    await eventually(lambda: any("已接单" in c.status_text for c in chat.cards(other)))

    # 4. parts: the engineer asks, the stock keeper approves, stock and cost change
    await chat.say(other, "申请备件 #1 LX-01*2")
    approval = (await eventually(lambda: card_with(chat, "zhao", "同意")))[0]
    assert set(approval.buttons) == {"同意", "驳回"}
    await chat.click("zhao", approval, "同意")
    await eventually(lambda: [t for t in chat.texts(other) if "#1" in t and "同意" in t])
    parts = await (await chat.client.get("/api/v1/parts", headers=auth)).json()
    assert parts["items"][0]["stock"] == 8

    # 5. done; the customer confirms and rates 5
    await chat.say(other, "完工 #1 更换滤芯，设备恢复运行")
    done = (await eventually(lambda: card_with(chat, "kehu", "确认完成")))[0]
    assert set(done.buttons) == {"确认完成", "未解决"}
    await chat.click("kehu", done, "确认完成")
    rating = (await eventually(lambda: card_with(chat, "kehu", "5分")))[0]
    assert list(rating.buttons) == ["5分", "4分", "3分", "2分", "1分"]
    await chat.click("kehu", rating, "5分")

    async def rated() -> bool:
        ticket = await (await chat.client.get("/api/v1/tickets/1", headers=auth)).json()
        return ticket["rating"] == 5

    await eventually(rated)
    ticket = await (await chat.client.get("/api/v1/tickets/1", headers=auth)).json()
    assert (
        ticket["status"] == "closed"
        and ticket["assignee"] == other
        and ticket["parts_cost"] == 170.0
    )

    # 6. the manager's summary shows the closed ticket, the rating and the parts cost
    await chat.say("chen", "统计 今天")
    summary = (
        await eventually(lambda: [c for c in chat.cards("chen") if "服务统计" in c.status_text])
    )[0]
    shown = json.loads(json.dumps(summary.status_text))
    assert "170.00" in shown and "5.0" in shown

    # the history tells the whole story, in order
    history = await ticket_history(chat.client.app, 1)
    expected = [
        "opened",
        "status_changed:assigned",
        "status_changed:new",  # declined
        "status_changed:assigned",
        "status_changed:accepted",
        "status_changed:waiting_parts",
        "status_changed:accepted",
        "status_changed:resolved",
        "status_changed:closed",
    ]
    moves = [h for h in history if h.startswith(("opened", "status_changed"))]
    assert moves == expected, history
    assert "rated" in history, history
