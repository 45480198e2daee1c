"""People removed from the config lose every staff role (issue #8 item 2).

The app starts with a manager and an engineer; then the directory is synced from a config
without them (what every ``serve`` start does). From then on they can do nothing staff can do,
are sent nothing, and are told they are no longer on the desk when they write.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from core.settings import DeskConfig
from tests.e2e.helpers import eventually, ticket_history
from tests.e2e.platforms import open_chat, people_yaml
from webhooks.bootstrap import sync_directory
from webhooks.keys import SERVICES

STAFF = [("zhang", "张伟", "engineer"), ("wang", "王强", "engineer"), ("chen", "陈总", "manager")]
GONE = "您已不在服务台人员名单中"


@pytest.fixture(params=["wecom", "dingtalk"])
async def chat(request, aiohttp_client, make_settings) -> AsyncIterator:
    yaml = people_yaml(STAFF, request.param) + "assignment: {auto_dispatch: false}\n"
    async with open_chat(request.param, aiohttp_client, make_settings, yaml) as c:
        yield c


async def remove(chat, *gone: str) -> None:
    services = chat.client.app[SERVICES]
    desk: DeskConfig = services.bus.config
    kept = desk.model_copy(update={"people": [p for p in desk.people if p.id not in gone]})
    await sync_directory(services.engine, kept, datetime.now(UTC))


async def test_a_removed_manager_and_engineer_lose_every_staff_role(chat, auth) -> None:
    await chat.say("kehu", "报修 A-1024 注塑机报警 E31")
    await eventually(lambda: [t for t in chat.texts("kehu") if "#1" in t])
    api = chat.client
    await api.post("/api/v1/tickets/1/assign", json={"assignee": "zhang"}, headers=auth)
    card = (await eventually(lambda: [c for c in chat.cards("zhang") if "接单" in c.buttons]))[0]

    await remove(chat, "chen", "zhang")

    # the removed engineer's card no longer accepts, and he is told why
    await chat.click("zhang", card, "接单")
    for who, text in (("chen", "统计 今天"), ("chen", "查看 #1"), ("chen", "转派 #1 王强")):
        await chat.say(who, text)
    await eventually(lambda: "".join(chat.texts("chen")).count(GONE) == 3)  # may be merged
    await eventually(lambda: [t for t in chat.texts("zhang") if GONE in t])
    history = await ticket_history(api.app, 1)
    assert "status_changed:accepted" not in history and "transferred" not in history
    assert not any("A-1024" in t for t in chat.texts("chen")), "the ticket was shown"
    assert not [c for c in chat.cards("chen") if "统计" in c.title or "汇总" in c.title]

    # nothing is sent to them any more; assignment to the removed engineer is refused
    r = await api.post("/api/v1/tickets/1/assign", json={"assignee": "zhang"}, headers=auth)
    assert r.status in (404, 409, 422)
    before = len(chat.texts("zhang")) + len(chat.cards("zhang"))
    await api.post("/api/v1/tickets/1/notes", json={"text": "@张伟 看看"}, headers=auth)
    await api.post("/api/v1/tickets/1/assign", json={"assignee": "wang"}, headers=auth)
    await eventually(lambda: [c for c in chat.cards("wang") if "接单" in c.buttons])
    await asyncio.sleep(0.3)
    assert len(chat.texts("zhang")) + len(chat.cards("zhang")) == before
