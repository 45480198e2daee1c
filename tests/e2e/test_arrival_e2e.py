"""到场 on both platforms, and a shared location on WeCom: the arrival time and place land in the
ticket's history and REST view; the engineer and the customer are told."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.e2e.helpers import eventually
from tests.e2e.platforms import open_chat, people_yaml
from tests.fakes.wecom_api import AGENT_ID

STAFF = [("zhang", "张伟", "engineer"), ("li", "李娜", "agent")]
REST = """
assignment: {auto_dispatch: false}
assets:
  - {id: A-1024, name: 注塑机}
"""


@pytest.fixture(params=["wecom", "dingtalk"])
async def chat(request, aiohttp_client, make_settings) -> AsyncIterator[Any]:
    text = people_yaml(STAFF, request.param) + REST
    async with open_chat(request.param, aiohttp_client, make_settings, text) as c:
        yield c


async def accepted(chat: Any, auth: dict[str, str]) -> None:
    await chat.say("kehu", "报修 A-1024 注塑机报警 E31")
    await eventually(lambda: [t for t in chat.texts("kehu") if "#1" in t])
    r = await chat.client.post("/api/v1/tickets/1/assign", json={"assignee": "zhang"}, headers=auth)
    assert r.status == 200
    await chat.say("zhang", "接单 #1")
    await eventually(lambda: [t for t in chat.texts("kehu") if "张伟" in t])


async def ticket(chat: Any, auth: dict[str, str]) -> dict[str, Any]:
    return await (await chat.client.get("/api/v1/tickets/1", headers=auth)).json()


async def test_arrive_is_recorded_and_both_are_told(chat: Any, auth: dict[str, str]) -> None:
    await accepted(chat, auth)
    await chat.say("zhang", "到场 #1")
    said = await eventually(lambda: [t for t in chat.texts("zhang") if "到场" in t])
    assert "#1" in said[0]
    told = await eventually(lambda: [t for t in chat.texts("kehu") if "已到达现场" in t])
    assert "#1" in told[0] and "张伟" in told[0]
    body = await ticket(chat, auth)
    [arrived] = [h for h in body["history"] if h["action"] == "arrived"]
    assert arrived["actor"] == "zhang" and arrived["first"] is True
    assert body["sla"]["arrived_at"] == arrived["at"]


async def test_the_customer_may_not_check_in(chat: Any, auth: dict[str, str]) -> None:
    await accepted(chat, auth)
    await chat.say("kehu", "/arrive #1")
    refused = await eventually(lambda: [t for t in chat.texts("kehu") if "只有负责的工程师" in t])
    assert "#1" in refused[0]
    assert (await ticket(chat, auth))["sla"]["arrived_at"] is None


@pytest.mark.parametrize("chat", ["wecom"], indirect=True)
async def test_a_location_from_the_engineer_checks_in_with_the_place(
    chat: Any, auth: dict[str, str]
) -> None:
    await accepted(chat, auth)
    xml = (
        chat._head("zhang")
        + "<MsgType><![CDATA[location]]></MsgType><Location_X>31.2304</Location_X>"
        "<Location_Y>121.4737</Location_Y><Scale>15</Scale>"
        "<Label><![CDATA[上海市黄浦区人民大道]]></Label>"
        f"<MsgId>700000001</MsgId><AgentID>{AGENT_ID}</AgentID></xml>"
    )
    assert await chat._post(xml) == 200
    said = await eventually(lambda: [t for t in chat.texts("zhang") if "到场" in t])
    assert "#1" in said[0] and "上海市黄浦区人民大道" in said[0]
    body = await ticket(chat, auth)
    [arrived] = [h for h in body["history"] if h["action"] == "arrived"]
    assert (arrived["latitude"], arrived["longitude"]) == (31.2304, 121.4737)
    assert arrived["label"] == "上海市黄浦区人民大道"
