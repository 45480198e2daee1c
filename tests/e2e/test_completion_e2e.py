"""完工 → 确认完成 / 未解决 → 评价, and 统计, end to end on WeCom and on DingTalk: real signed
callbacks into the real app; assertions on what the fake platform servers received and on the
ticket's history."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot import texts as bot_texts
from tests.e2e.helpers import eventually, ticket_history
from tests.e2e.platforms import SeenCard, open_chat, people_yaml

STAFF = [("zhang", "张伟", "engineer"), ("boss", "赵敏", "manager")]
ENGINEER, MANAGER, CUSTOMER = "zhang", "boss", "kehu01"


@pytest.fixture(params=["wecom", "dingtalk"])
async def chat(request, aiohttp_client, make_settings) -> AsyncIterator[Any]:
    config = people_yaml(STAFF, request.param)
    async with open_chat(request.param, aiohttp_client, make_settings, config) as c:
        yield c


def card(chat: Any, user: str, key: str) -> SeenCard | None:
    """The card ``key`` as ``user`` sees it now (WeCom may append @r… to a re-sent task id)."""
    return next((c for c in chat.cards(user) if c.key.split("@r")[0] == key), None)


async def seen(chat: Any, user: str, key: str) -> SeenCard:
    return await eventually(lambda: card(chat, user, key))


async def shows(chat: Any, user: str, key: str, words: str) -> bool:
    c = card(chat, user, key)
    return bool(c and words in c.status_text)


async def has(chat: Any, ticket_id: int, entry: str) -> bool:
    return entry in await ticket_history(chat.client.app, ticket_id)


async def accepted_ticket(chat: Any, auth: dict[str, str]) -> int:
    """#n for the customer on this platform, assigned to 张伟 and accepted by him in chat."""
    created = await chat.client.post(
        "/api/v1/tickets",
        json={
            "title": "注塑机报警 E31",
            "fields": {"device": "A-1024", "symptom": "E31"},
            "requester": {"platform": chat.platform, "user_id": CUSTOMER},
        },
        headers=auth,
    )
    assert created.status == 201
    tid = (await created.json())["id"]
    r = await chat.client.post(
        f"/api/v1/tickets/{tid}/assign", json={"assignee": ENGINEER}, headers=auth
    )
    assert r.status in (200, 409)  # 409: automatic dispatch already chose 张伟, the only one
    await eventually(lambda: has(chat, tid, "status_changed:assigned"))
    await chat.say(ENGINEER, f"接单 #{tid}")
    await eventually(lambda: has(chat, tid, "status_changed:accepted"))
    return tid


async def resolved_ticket(chat: Any, auth: dict[str, str]) -> tuple[int, SeenCard]:
    tid = await accepted_ticket(chat, auth)
    await chat.photo(ENGINEER, "media-site-1")  # held for the next 完工
    await eventually(lambda: len(chat.texts(ENGINEER)) >= 1)
    await chat.say(ENGINEER, f"完工 #{tid} 更换滤芯，试机正常")
    key = f"t{tid}_done_1"
    done = await seen(chat, CUSTOMER, key)
    assert list(done.buttons) == ["确认完成", "未解决"]
    assert f"#{tid}" in done.status_text and "更换滤芯" in done.status_text
    assert "1 张" in done.status_text  # the photo sent before 完工
    assert "http://127.0.0.1:8080/s/" in done.status_text  # the signing link (签字确认)
    told = await eventually(lambda: [t for t in chat.texts(CUSTOMER) if "签字确认" in t])
    assert f"#{tid}" in told[0] and "http://127.0.0.1:8080/s/" in told[0]
    ticket = await (await chat.client.get(f"/api/v1/tickets/{tid}", headers=auth)).json()
    resolved = ticket["history"][-1]
    assert resolved["action"] == "status_changed" and resolved["to"] == "resolved"
    assert resolved["summary"] == "更换滤芯，试机正常" and resolved["photos"] == ["media-site-1"]
    return tid, done


async def test_complete_confirm_and_a_low_rating(chat: Any, auth: dict[str, str]) -> None:
    tid, done = await resolved_ticket(chat, auth)
    key = f"t{tid}_done_1"
    await eventually(lambda: any(f"#{tid}" in t and "完工" in t for t in chat.texts(ENGINEER)))

    await chat.click(CUSTOMER, done, "确认完成")
    await eventually(lambda: has(chat, tid, "status_changed:closed"))
    await eventually(lambda: shows(chat, CUSTOMER, key, "已确认完成"))
    rate = await seen(chat, CUSTOMER, f"t{tid}_rate")
    assert list(rate.buttons) == ["5分", "4分", "3分", "2分", "1分"]

    # a second click on the (old) button changes nothing (WeCom: a polite reply; DingTalk: the
    # same track, user and action is the same inbox row)
    await chat.click(CUSTOMER, done, "确认完成")
    if chat.platform == "wecom":
        await eventually(
            lambda: any(f"#{tid}" in t and "已关闭" in t for t in chat.texts(CUSTOMER))
        )

    await chat.click(CUSTOMER, rate, "2分")
    to_manager = await eventually(lambda: chat.texts(MANAGER))
    assert f"#{tid}" in to_manager[0] and "2分" in to_manager[0] and "张伟" in to_manager[0]
    await eventually(lambda: shows(chat, CUSTOMER, f"t{tid}_rate", "已评价：2分"))
    history = await ticket_history(chat.client.app, tid)
    assert history[-1] == "rated" and history.count("status_changed:closed") == 1

    # one rating per ticket
    await chat.say(CUSTOMER, f"评价 #{tid} 5 很好")
    await eventually(lambda: any("只能评价一次" in t for t in chat.texts(CUSTOMER)))
    assert (await ticket_history(chat.client.app, tid)).count("rated") == 1
    ticket = await (await chat.client.get(f"/api/v1/tickets/{tid}", headers=auth)).json()
    assert ticket["status"] == "closed"


async def test_not_fixed_asks_the_reason_and_returns_to_the_engineer(
    chat: Any, auth: dict[str, str]
) -> None:
    tid, done = await resolved_ticket(chat, auth)
    key = f"t{tid}_done_1"
    await chat.click(CUSTOMER, done, "未解决")
    ask = bot_texts.ASK_REOPEN_REASON.format(id=tid)
    await eventually(lambda: ask in chat.texts(CUSTOMER))
    assert (await ticket_history(chat.client.app, tid))[-1] == "status_changed:resolved"

    await chat.say(CUSTOMER, "还是报警 E31")
    told = await eventually(
        lambda: [t for t in chat.texts(ENGINEER) if "还是报警 E31" in t and f"#{tid}" in t]
    )
    assert "未解决" in told[0]
    assert (await ticket_history(chat.client.app, tid))[-1] == "status_changed:accepted"
    await eventually(lambda: shows(chat, CUSTOMER, key, "反馈未解决"))

    # finished again: a new completion card
    await chat.say(ENGINEER, f"完工 #{tid} 更换主板")
    again = await seen(chat, CUSTOMER, f"t{tid}_done_2")
    assert list(again.buttons) == ["确认完成", "未解决"] and "更换主板" in again.status_text


async def test_summary_for_managers_only(chat: Any, auth: dict[str, str]) -> None:
    await accepted_ticket(chat, auth)
    await chat.say(MANAGER, "统计 今天")
    await chat.say(CUSTOMER, "统计 今天")
    await eventually(lambda: bot_texts.SUMMARY_MANAGERS_ONLY in chat.texts(CUSTOMER))
    shown = await eventually(lambda: _summary_shown(chat))
    assert "服务统计" in shown and "今天" in shown
    assert not any("服务统计" in c.status_text for c in chat.cards(CUSTOMER))
    assert not any("服务统计" in t for t in chat.texts(CUSTOMER))


def _summary_shown(chat: Any) -> str:
    cards = [c for c in chat.cards(MANAGER) if c.key.startswith("sum_")]
    if cards:
        return cards[0].status_text
    # a WeCom card without buttons needs a URL; without one it arrives as text
    return next((t for t in chat.texts(MANAGER) if "服务统计" in t), "")
