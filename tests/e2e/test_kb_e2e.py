"""Knowledge in chat on WeCom and DingTalk (知识), and the article page with its vote."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.e2e.helpers import eventually
from tests.e2e.platforms import open_chat, people_yaml
from tests.fakes import kb_data

STAFF = [("zhang", "张伟", "engineer"), ("chen", "陈静", "manager")]
CONFIG = """
assignment: {auto_dispatch: false}
assets:
  - {id: A-1024, name: 空压机}
"""
BASE = "http://desk.example.com"


async def add_articles(client: Any, auth: dict[str, str], ids: set[str] | None = None) -> None:
    for a in kb_data.articles():
        if ids is None or a["id"] in ids:
            r = await client.post("/api/v1/kb/articles", json=a, headers=auth)
            assert r.status == 201, await r.text()


@pytest.fixture(params=["wecom", "dingtalk"])
async def chat(request, aiohttp_client, make_settings, auth) -> AsyncIterator:
    config = people_yaml(STAFF, request.param) + CONFIG
    http = {"public_base_url": BASE}
    async with open_chat(request.param, aiohttp_client, make_settings, config, http=http) as c:
        await add_articles(c.client, auth)
        yield c


def card_text(card: Any) -> str:
    return card.status_text


async def test_kb_command_answers_with_the_top_articles_as_a_card(chat) -> None:
    await chat.say("kehu", "知识 空压机漏油")
    cards = await eventually(lambda: chat.cards("kehu"))
    text = card_text(cards[-1])
    assert "空压机漏油、机组内油污多" in text  # KB-021, title shown
    assert f"{BASE}/kb/KB-021" in text  # a link to the article page
    assert not cards[-1].buttons
    assert len(set(re.findall(r"/kb/(KB-\d+)", text))) <= 3

    await chat.say("kehu", "/kb AL-21")
    cards = await eventually(lambda: len(chat.cards("kehu")) >= 2 and chat.cards("kehu"))
    assert any(f"{BASE}/kb/KB-013" in card_text(c) for c in cards)


async def test_kb_without_a_relevant_article_says_so(chat) -> None:
    await chat.say("kehu", "知识 公司食堂周末开不开")
    told = await eventually(lambda: [t for t in chat.texts("kehu") if "没有找到" in t])
    assert "食堂" in told[0]
    assert chat.cards("kehu") == []
    await chat.say("kehu", "知识")
    await eventually(lambda: [t for t in chat.texts("kehu") if "关键词" in t])


async def test_the_article_page_counts_views_and_takes_one_vote_per_view(chat, auth) -> None:
    page = await chat.client.get("/kb/KB-057")
    assert page.status == 200 and page.content_type == "text/html"
    body = await page.text()
    assert "办公打印机卡纸" in body and 'name="viewport"' in body
    token = re.search(r'name="token" value="([^"]+)"', body)
    assert token is not None
    voted = await chat.client.post("/kb/KB-057/vote", data={"vote": "yes", "token": token.group(1)})
    assert voted.status == 200 and "谢谢" in await voted.text()
    again = await chat.client.post("/kb/KB-057/vote", data={"vote": "yes", "token": token.group(1)})
    assert "已经反馈" in await again.text()
    forged = await chat.client.post("/kb/KB-057/vote", data={"vote": "yes", "token": "x.y"})
    assert forged.status == 400
    blind = await chat.client.post("/kb/KB-057/vote", data={"vote": "maybe"})
    assert blind.status == 400
    article = await (await chat.client.get("/api/v1/kb/articles/KB-057", headers=auth)).json()
    assert (article["views"], article["helpful"], article["unhelpful"]) == (1, 1, 0)
    assert (await chat.client.get("/kb/NOPE-1")).status == 404
    assert (await chat.client.get("/kb/%3Cscript%3E")).status == 404


async def tickets(client: Any, auth: dict[str, str]) -> int:
    return (await (await client.get("/api/v1/tickets?count=true", headers=auth)).json())["total"]


async def suggestion_card(chat, user: str) -> Any:
    cards = await eventually(lambda: [c for c in chat.cards(user) if "已解决" in c.buttons])
    return cards[-1]


async def test_solved_by_a_suggested_article_creates_no_ticket(chat, auth) -> None:
    await chat.say("kehu", "空压机刚换了油滤就开始漏油，机组里面都是油")
    card = await suggestion_card(chat, "kehu")
    assert set(card.buttons) == {"已解决", "仍需报修"}
    assert f"{BASE}/kb/KB-021" in card.status_text
    assert await tickets(chat.client, auth) == 0
    await chat.click("kehu", card, "已解决")
    await eventually(lambda: [t for t in chat.texts("kehu") if "没有创建工单" in t])
    finished = await eventually(
        lambda: [c for c in chat.cards("kehu") if "已解决" in c.status_text and c.key == card.key]
    )
    assert finished
    await chat.click("kehu", card, "仍需报修")  # a second click on a finished card
    await eventually(lambda: [t for t in chat.texts("kehu") if "已经处理过" in t])
    assert await tickets(chat.client, auth) == 0


async def test_still_needs_repair_goes_on_with_the_intake(chat, auth) -> None:
    await chat.say("kehu", "报修 空压机漏油很厉害")
    card = await suggestion_card(chat, "kehu")
    await chat.click("kehu", card, "仍需报修")
    asked = await eventually(lambda: [t for t in chat.texts("kehu") if "设备编号" in t])
    assert asked
    await chat.say("kehu", "A-1024")
    opened = await eventually(lambda: [t for t in chat.texts("kehu") if "#1" in t])
    assert opened
    ticket = await (await chat.client.get("/api/v1/tickets/1", headers=auth)).json()
    assert ticket["description"] == "空压机漏油很厉害"
    assert ticket["fields"]["device"] == "A-1024"


async def test_a_report_without_a_matching_article_goes_straight_to_intake(chat, auth) -> None:
    await chat.say("kehu", "报修 A-1024 激光切割机切不透钢板")
    await eventually(lambda: [t for t in chat.texts("kehu") if "#1" in t])
    assert not [c for c in chat.cards("kehu") if "已解决" in c.buttons]


async def test_reports_show_deflections_most_viewed_and_gaps(chat, auth) -> None:
    await chat.say("kehu", "知识 公司食堂周末开不开")
    await eventually(lambda: [t for t in chat.texts("kehu") if "没有找到" in t])
    await chat.say("kehu", "知识 空压机漏油")
    await eventually(lambda: chat.cards("kehu"))
    assert (await chat.client.get("/kb/KB-021")).status == 200
    await chat.say("kehu", "空压机刚换了油滤就开始漏油，机组里面都是油")
    card = await suggestion_card(chat, "kehu")
    await chat.click("kehu", card, "已解决")
    await eventually(lambda: [t for t in chat.texts("kehu") if "没有创建工单" in t])

    got = await chat.client.get("/api/v1/kb/report?period=today", headers=auth)
    report = await got.json()
    assert (report["suggested"], report["deflected"], report["escalated"]) == (1, 1, 0)
    assert (report["searches"], report["unanswered"]) == (2, 1)
    assert report["gaps"] == [{"query": "公司食堂周末开不开", "count": 1}]
    assert report["top_viewed"][0]["id"] == "KB-021" and report["top_viewed"][0]["views"] == 1
    bad = await chat.client.get("/api/v1/kb/report?period=year", headers=auth)
    assert bad.status == 422
    assert (await chat.client.get("/api/v1/kb/report")).status == 401

    await chat.say("chen", "统计 今天")
    summary = await eventually(
        lambda: [c for c in chat.cards("chen") if "服务统计" in c.status_text]
    )
    text = summary[-1].status_text
    assert "自助解决" in text and "知识缺口" in text and "公司食堂周末开不开" in text
