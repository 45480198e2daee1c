"""A stale 拒单 / 驳回 click says at once that it was already decided (issue #8 item 9),
instead of asking for a reason that would then be refused."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.e2e.helpers import eventually
from tests.e2e.platforms import open_chat, people_yaml

STAFF = [
    ("zhang", "张伟", "engineer"),
    ("ku1", "库管甲", "stock_keeper"),
    ("ku2", "库管乙", "stock_keeper"),
    ("li", "李娜", "agent"),
]
EXTRA = """assignment: {auto_dispatch: false}
parts:
  - {sku: LX-01, name: 滤芯, stock: 10, unit_cost: 85.0}
"""


@pytest.fixture(params=["wecom", "dingtalk"])
async def chat(request, aiohttp_client, make_settings) -> AsyncIterator:
    yaml = people_yaml(STAFF, request.param) + EXTRA
    async with open_chat(request.param, aiohttp_client, make_settings, yaml) as c:
        yield c


def asked_reason(texts: list[str]) -> bool:
    return any("原因" in t and "请回复" in t for t in texts)


async def test_stale_decline_and_reject_clicks_answer_at_once(chat, auth) -> None:
    await chat.say("kehu", "咨询 配件价格")
    await eventually(lambda: [t for t in chat.texts("kehu") if "#1" in t])
    await chat.client.post("/api/v1/tickets/1/assign", json={"assignee": "zhang"}, headers=auth)
    card = (await eventually(lambda: [c for c in chat.cards("zhang") if "拒单" in c.buttons]))[0]
    await chat.say("zhang", "接单 #1")
    await eventually(lambda: [t for t in chat.texts("kehu") if "张伟" in t])

    await chat.click("zhang", card, "拒单")  # the card is stale: #1 is accepted already
    said = await eventually(lambda: [t for t in chat.texts("zhang") if "拒单" in t])
    assert "#1" in said[-1] and not asked_reason(chat.texts("zhang"))

    await chat.say("zhang", "申请备件 #1 LX-01*1")
    cards = await eventually(
        lambda: (
            [(k, c) for k in ("ku1", "ku2") for c in chat.cards(k) if "驳回" in c.buttons]
            if len([1 for k in ("ku1", "ku2") for c in chat.cards(k) if "驳回" in c.buttons]) == 2
            else None
        )
    )
    first, second = dict(cards)["ku1"], dict(cards)["ku2"]
    await chat.click("ku1", first, "同意")
    await eventually(lambda: [t for t in chat.texts("zhang") if "同意" in t])
    await chat.click("ku2", second, "驳回")  # decided a moment ago by ku1
    said = await eventually(lambda: [t for t in chat.texts("ku2") if "#1" in t])
    assert "已" in said[-1] and not asked_reason(chat.texts("ku2"))
