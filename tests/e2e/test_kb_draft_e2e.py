"""存为知识 end to end on WeCom and DingTalk: after 完工 the engineer's card offers it; a click
drafts an article from the ticket (fault, cause, fix) that agents review and publish."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.errors import Forbidden, InvalidTransition
from core.kb.commands import DraftArticleFromTicket
from core.messages import Actor, Channel
from tests.e2e.helpers import eventually
from tests.e2e.platforms import open_chat, people_yaml
from tests.e2e.test_completion_e2e import ENGINEER, accepted_ticket
from webhooks.keys import SERVICES

STAFF = [("zhang", "张伟", "engineer"), ("li", "李娜", "agent"), ("boss", "赵敏", "manager")]


@pytest.fixture(params=["wecom", "dingtalk"])
async def chat(request, aiohttp_client, make_settings) -> AsyncIterator[Any]:
    config = people_yaml(STAFF, request.param)
    async with open_chat(request.param, aiohttp_client, make_settings, config) as c:
        yield c


def offer(chat: Any, tid: int) -> Any:
    return next((c for c in chat.cards(ENGINEER) if c.key.split("@r")[0] == f"t{tid}_kb_r1"), None)


async def test_save_as_knowledge_drafts_an_article_for_review(chat, auth) -> None:
    tid = await accepted_ticket(chat, auth)
    await chat.say(ENGINEER, f"备注 #{tid} 冷却水阀门被关小了")
    await chat.say(ENGINEER, f"完工 #{tid} 打开冷却水阀门，清洗冷却器后油温恢复正常")
    card = await eventually(lambda: offer(chat, tid))
    assert "存为知识" in card.buttons

    await chat.click(ENGINEER, card, "存为知识")
    drafted = await eventually(lambda: [t for t in chat.texts(ENGINEER) if "知识草稿" in t])
    assert f"#{tid}" in drafted[0] and f"KB-T{tid}" in drafted[0]
    told = await eventually(lambda: [t for t in chat.texts("li") if f"KB-T{tid}" in t])
    assert "审核" in told[0]
    await eventually(lambda: "已存为知识草稿" in (offer(chat, tid) or card).status_text)

    got = await chat.client.get(f"/api/v1/kb/articles/KB-T{tid}", headers=auth)
    article = await got.json()
    assert article["status"] == "draft" and article["source_ticket"] == tid
    assert "现象：" in article["body"] and "E31" in article["body"]
    assert "原因：冷却水阀门被关小了" in article["body"]
    assert "处理：打开冷却水阀门，清洗冷却器后油温恢复正常" in article["body"]
    assert article["author"] == ENGINEER

    found = await chat.client.get("/api/v1/kb/search?q=注塑机报警 E31", headers=auth)
    assert (await found.json())["items"] == []  # a draft is not searchable
    await chat.client.patch(
        f"/api/v1/kb/articles/KB-T{tid}", json={"status": "published"}, headers=auth
    )
    found = await chat.client.get("/api/v1/kb/search?q=注塑机报警 E31", headers=auth)
    assert [h["id"] for h in (await found.json())["items"]] == [f"KB-T{tid}"]

    listing = await (await chat.client.get("/api/v1/kb/articles?count=true", headers=auth)).json()
    assert listing["total"] == 1 and listing["items"][0]["status"] == "published"


async def test_only_staff_of_the_ticket_may_save_it_and_only_once_resolved(chat, auth) -> None:
    tid = await accepted_ticket(chat, auth)
    bus = chat.client.app[SERVICES].bus
    customer = Actor(person_id="kehu01", name="客户", channel=Channel.WECOM)
    engineer = Actor(person_id=ENGINEER, name="张伟", roles=frozenset({"engineer"}))
    with pytest.raises(InvalidTransition):
        await bus.handle(DraftArticleFromTicket(actor=engineer, ticket_id=tid))
    await chat.say(ENGINEER, f"完工 #{tid} 更换传感器")
    await eventually(lambda: offer(chat, tid))
    with pytest.raises(Forbidden):
        await bus.handle(DraftArticleFromTicket(actor=customer, ticket_id=tid))
    article = await bus.handle(DraftArticleFromTicket(actor=engineer, ticket_id=tid))
    assert article.id == f"KB-T{tid}"
    again = await bus.handle(DraftArticleFromTicket(actor=engineer, ticket_id=tid))
    assert again.id == article.id  # one draft per ticket; the engineer is told where it is
    await eventually(lambda: [t for t in chat.texts(ENGINEER) if "无需重复保存" in t])
