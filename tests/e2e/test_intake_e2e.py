"""Intake and conversation in chat, on WeCom and on DingTalk."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.e2e.helpers import eventually, ticket_history
from tests.e2e.platforms import open_chat, people_yaml

STAFF = [("zhang", "张伟", "engineer"), ("li", "李娜", "agent"), ("wang", "王强", "engineer")]
ASSETS = """
assignment: {auto_dispatch: false}   # these tests assign by hand; dispatch has its own tests
assets:
  - {id: A-1024, name: 注塑机}
  - {id: A-2048, name: 空压机}
"""


@pytest.fixture(params=["wecom", "dingtalk"])
async def chat(request, aiohttp_client, make_settings) -> AsyncIterator:
    config = people_yaml(STAFF, request.param) + ASSETS
    async with open_chat(request.param, aiohttp_client, make_settings, config) as c:
        yield c


async def test_the_bot_asks_for_what_is_missing_then_opens_the_ticket(chat, auth) -> None:
    await chat.say("kehu", "注塑机报警 E31，无法启动")
    asked = await eventually(lambda: chat.texts("kehu"))
    assert "设备编号" in asked[-1]
    await chat.photo("kehu", "media-001")
    await eventually(lambda: len(chat.texts("kehu")) >= 2)
    await chat.say("kehu", "B-9")
    wrong = await eventually(lambda: [t for t in chat.texts("kehu") if "未找到设备" in t])
    assert "重新输入" in wrong[0]
    await chat.say("kehu", "A-1024")
    opened = await eventually(lambda: [t for t in chat.texts("kehu") if "#1" in t])
    assert "设备报修" in opened[0]
    ticket = await (await chat.client.get("/api/v1/tickets/1", headers=auth)).json()
    assert ticket["fields"]["device"] == "A-1024" and ticket["fields"]["photos"] == ["media-001"]
    assert ticket["description"] == "注塑机报警 E31，无法启动"
    assert ticket["history"][0]["channel"] == chat.platform


async def test_same_device_is_offered_as_the_same_problem(chat, auth) -> None:
    await chat.say("kehu", "报修 A-2048 空压机异响")
    await eventually(lambda: [t for t in chat.texts("kehu") if "#1" in t])
    await chat.say("kehu", "报修 A-2048 又开始响了")
    question = await eventually(lambda: [t for t in chat.texts("kehu") if "同一个问题" in t])
    assert "#1" in question[0]
    await chat.say("kehu", "是")
    await eventually(lambda: [t for t in chat.texts("kehu") if "已补充到工单 #1" in t])
    history = await ticket_history(chat.client.app, 1)
    assert history == ["opened", "customer_message"]
    listing = await (await chat.client.get("/api/v1/tickets?count=true", headers=auth)).json()
    assert listing["total"] == 1


async def test_reply_reaches_the_customer_and_the_answer_comes_back(chat, auth) -> None:
    await chat.say("kehu", "报修 A-1024 漏油")
    await eventually(lambda: [t for t in chat.texts("kehu") if "#1" in t])
    await chat.client.post("/api/v1/tickets/1/assign", json={"assignee": "zhang"}, headers=auth)
    await chat.say("zhang", "回复 #1 明天上午九点到现场")
    told = await eventually(lambda: [t for t in chat.texts("kehu") if "明天上午九点" in t])
    assert "#1" in told[0] and "张伟" in told[0]
    await chat.say("kehu", "好的，门卫处找我")
    forwarded = await eventually(lambda: [t for t in chat.texts("zhang") if "门卫处找我" in t])
    assert "#1" in forwarded[0]
    assert await ticket_history(chat.client.app, 1) == [
        "opened",
        "status_changed:assigned",
        "reply",
        "customer_message",
    ]


async def test_internal_note_mentions_tell_staff_and_never_the_customer(chat, auth) -> None:
    await chat.say("kehu", "报修 A-1024 漏油")
    await eventually(lambda: [t for t in chat.texts("kehu") if "#1" in t])
    before = len(chat.texts("kehu"))
    await chat.say("li", "备注 #1 客户是大客户 @王强 请关注")
    mention = await eventually(lambda: [t for t in chat.texts("wang") if "提到了您" in t])
    assert "#1" in mention[0] and "李娜" in mention[0]
    assert await ticket_history(chat.client.app, 1) == ["opened", "note"]
    assert len(chat.texts("kehu")) == before


async def test_refusals_are_polite_and_change_nothing(chat) -> None:
    await chat.say("kehu", "报修 A-1024 漏油")
    await eventually(lambda: [t for t in chat.texts("kehu") if "#1" in t])
    await chat.say("kehu", "备注 #1 我是客户")
    refused = await eventually(lambda: [t for t in chat.texts("kehu") if "服务人员" in t])
    assert "备注" in refused[0]
    await chat.say("zhang", "接单 #99")
    missing = await eventually(lambda: [t for t in chat.texts("zhang") if "#99" in t])
    assert "没有找到" in missing[0]
    await chat.say("kehu", "统计 今天")
    await eventually(lambda: [t for t in chat.texts("kehu") if "经理" in t])
    assert await ticket_history(chat.client.app, 1) == ["opened"]


async def test_help_lists_what_each_person_may_do(chat) -> None:
    await chat.say("kehu", "帮助")
    await chat.say("zhang", "/help")
    customer = (await eventually(lambda: chat.texts("kehu")))[0]
    engineer = (await eventually(lambda: chat.texts("zhang")))[0]
    assert "报修" in customer and "完工" not in customer
    assert "完工" in engineer and "申请备件" in engineer
