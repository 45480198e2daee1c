"""Spare parts in chat, on WeCom and on DingTalk: 申请备件 → approval cards to every stock keeper
→ 同意 (stock deducted, cost on the ticket, engineer told, the other card updated) or 驳回 with
a reason."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.e2e.helpers import eventually, ticket_history
from tests.e2e.platforms import SeenCard, open_chat, people_yaml

STAFF = [
    ("zhang", "张伟", "engineer"),
    ("li", "李娜", "agent"),
    ("ku1", "库管甲", "stock_keeper"),
    ("ku2", "库管乙", "stock_keeper"),
]
PARTS = """
parts:
  - {sku: LX-01, name: 滤芯, stock: 10, unit_cost: 85.0}
  - {sku: MF-03, name: 密封圈, stock: 5, unit_cost: 12.5, min_stock: 2}
"""


@pytest.fixture(params=["wecom", "dingtalk"])
async def chat(request, aiohttp_client, make_settings) -> AsyncIterator[Any]:
    config = people_yaml(STAFF, request.param) + PARTS
    async with open_chat(request.param, aiohttp_client, make_settings, config) as c:
        yield c


async def accepted_ticket(chat: Any, auth: dict[str, str]) -> int:
    created = await chat.client.post(
        "/api/v1/tickets", json={"title": "空压机漏油", "type": "consult"}, headers=auth
    )
    ticket = (await created.json())["id"]
    await chat.client.post(
        f"/api/v1/tickets/{ticket}/assign", json={"assignee": "zhang"}, headers=auth
    )
    await chat.say("zhang", f"接单 #{ticket}")
    await eventually(lambda: _status(chat, auth, ticket, "accepted"))
    return ticket


async def _status(chat: Any, auth: dict[str, str], ticket: int, status: str) -> bool:
    body = await (await chat.client.get(f"/api/v1/tickets/{ticket}", headers=auth)).json()
    return body["status"] == status


async def _ticket(chat: Any, auth: dict[str, str], ticket: int) -> dict[str, Any]:
    return await (await chat.client.get(f"/api/v1/tickets/{ticket}", headers=auth)).json()


async def _stock(chat: Any, auth: dict[str, str]) -> dict[str, int]:
    body = await (await chat.client.get("/api/v1/parts", headers=auth)).json()
    return {p["sku"]: p["stock"] for p in body["items"]}


def parts_card(chat: Any, user: str) -> SeenCard | None:
    return next((c for c in chat.cards(user) if "_parts_" in c.key), None)


async def request_and_get_cards(chat: Any, ticket: int) -> tuple[SeenCard, SeenCard]:
    await chat.say("zhang", f"申请备件 #{ticket} LX-01*2 滤芯*1")
    one = await eventually(lambda: parts_card(chat, "ku1"))
    two = await eventually(lambda: parts_card(chat, "ku2"))
    for card in (one, two):
        assert set(card.buttons) == {"同意", "驳回"}
        assert f"#{ticket}" in card.title
        assert "LX-01" in card.status_text and "¥255.00" in card.status_text
    return one, two


async def test_first_approval_deducts_stock_and_the_other_card_says_who(chat, auth) -> None:
    t = await accepted_ticket(chat, auth)
    one, two = await request_and_get_cards(chat, t)
    await eventually(lambda: [x for x in chat.texts("zhang") if "已提交" in x and f"#{t}" in x])
    assert (await _ticket(chat, auth, t))["status"] == "waiting_parts"

    await chat.click("ku1", one, "同意")
    told = await eventually(lambda: [x for x in chat.texts("zhang") if "已由 库管甲 同意" in x])
    assert f"#{t}" in told[0] and "¥255.00" in told[0]
    assert (await _stock(chat, auth)) == {"LX-01": 7, "MF-03": 5}
    ticket = await _ticket(chat, auth, t)
    assert ticket["status"] == "accepted" and ticket["parts_cost"] == 255.0
    assert await ticket_history(chat.client.app, t) == [
        "opened",
        "status_changed:assigned",
        "status_changed:accepted",
        "parts_requested",
        "status_changed:waiting_parts",
        "parts_approved",
        "status_changed:accepted",
    ]
    other = await eventually(
        lambda: (c := parts_card(chat, "ku2")) and "库管甲 已同意" in c.status_text and c
    )
    assert "库管甲 已同意" in other.status_text
    await eventually(lambda: "库管甲 已同意" in (parts_card(chat, "ku1") or one).status_text)

    # the other keeper clicks his stale card: told politely, nothing changes
    await chat.click("ku2", two, "同意")
    polite = await eventually(lambda: [x for x in chat.texts("ku2") if "无需重复处理" in x])
    assert "库管甲" in polite[0] and f"#{t}" in polite[0]
    await asyncio.sleep(0.3)
    assert (await _stock(chat, auth))["LX-01"] == 7
    assert (await _ticket(chat, auth, t))["parts_cost"] == 255.0
    assert (await ticket_history(chat.client.app, t)).count("parts_approved") == 1


async def test_reject_asks_for_a_reason_and_tells_the_engineer(chat, auth) -> None:
    t = await accepted_ticket(chat, auth)
    _, two = await request_and_get_cards(chat, t)
    await chat.click("ku2", two, "驳回")
    await eventually(lambda: [x for x in chat.texts("ku2") if "驳回原因" in x])
    assert (await _ticket(chat, auth, t))["status"] == "waiting_parts"
    await chat.say("ku2", "型号不对，请核对铭牌")
    told = await eventually(lambda: [x for x in chat.texts("zhang") if "驳回" in x])
    assert "库管乙" in told[0] and "型号不对，请核对铭牌" in told[0] and f"#{t}" in told[0]
    ticket = await _ticket(chat, auth, t)
    assert ticket["status"] == "accepted" and ticket["parts_cost"] == 0
    assert (await _stock(chat, auth))["LX-01"] == 10
    history = await ticket_history(chat.client.app, t)
    assert history[-2:] == ["parts_rejected", "status_changed:accepted"]
    other = await eventually(
        lambda: (c := parts_card(chat, "ku1")) and "已驳回" in c.status_text and c
    )
    assert "型号不对" in other.status_text


async def test_short_stock_and_unknown_names_are_explained(chat, auth) -> None:
    t = await accepted_ticket(chat, auth)
    await chat.say("zhang", f"申请备件 #{t} 齿轮*1")
    unknown = await eventually(lambda: [x for x in chat.texts("zhang") if "找不到备件" in x])
    assert "齿轮" in unknown[0] and "LX-01 滤芯" in unknown[0]
    assert (await _ticket(chat, auth, t))["status"] == "accepted"
    await chat.say("zhang", f"申请备件 #{t} MF-03*6")
    card = await eventually(lambda: parts_card(chat, "ku1"))
    await chat.click("ku1", card, "同意")
    short = await eventually(lambda: [x for x in chat.texts("ku1") if "库存不足" in x])
    assert "MF-03 密封圈 需要 6，库存 5" in short[0] and f"#{t}" in short[0]
    assert (await _stock(chat, auth))["MF-03"] == 5
    assert (await _ticket(chat, auth, t))["status"] == "waiting_parts"
