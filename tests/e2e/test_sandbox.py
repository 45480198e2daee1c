"""The sandbox end to end: the demo app on a real port, driven only through the page's API,
which reaches chatdesk through its real webhooks with signed and encrypted callbacks."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from core import db
from tests.e2e.sandbox_harness import buttons, card_text, start_demo
from webhooks.keys import SERVICES

PLATFORMS = ["wecom", "dingtalk"]


async def _count(app, table) -> int:  # type: ignore[no-untyped-def]
    async with app[SERVICES].engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar() or 0)


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_report_accept_parts_summary(tmp_path: Path, platform: str) -> None:
    async with start_demo(tmp_path) as demo:
        seeded = await _count(demo.app, db.tickets)
        assert seeded > 20  # weeks of history
        ref = await demo.report(platform, "c-liuyang", "报修 HX-2000-01 注塑机报警停机")
        assert ref == f"#{seeded + 1}"  # numbering continues after the seeded history

        # HX-2000-01 is in 华东: one of its two engineers gets the assignment card.
        async def offered() -> tuple[str, dict] | None:  # type: ignore[type-arg]
            for person in ("zhang", "wang"):
                for card in await demo.cards(platform, person):
                    if "接单" in buttons(card) and ref in card_text(card):
                        return person, card
            return None

        engineer, card = await demo.wait(offered)
        assert set(buttons(card)) == {"接单", "拒单"}
        assert await demo.click(platform, engineer, card, "接单") == 200
        await demo.wait(lambda: _has(demo.texts(platform, "c-liuyang"), "接单"))

        async def updated() -> dict | None:  # type: ignore[type-arg]
            # the relay serves different people at once: the card may follow the text
            for c in await demo.cards(platform, engineer):
                if c["id"] == card["id"] and not buttons(c):
                    return c
            return None

        finished = await demo.wait(updated)  # the card is updated in place: no buttons left
        assert buttons(finished) == {}
        assert "已接单" in card_text(finished)
        # a second click on the finished card is refused by the page API
        assert await demo.click(platform, engineer, card, "接单") == 409

        await demo.say(platform, engineer, f"申请备件 {ref} LX-01*1")
        # 赵敏 is known on both platforms and is reached on the ticket's platform
        approval = await demo.card_with(platform, "zhao", "同意")
        assert ref in card_text(approval)
        assert await demo.click(platform, "zhao", approval, "同意") == 200
        await demo.wait(lambda: _has(demo.texts(platform, "zhao"), "已同意"))
        await demo.wait(lambda: _has(demo.texts(platform, engineer), "赵敏 同意"))

        await demo.say(platform, "chen", "统计 本月")
        summary = await demo.wait(lambda: _summary(demo, platform))
        assert "服务统计" in card_text(summary)
        assert "/dashboard?k=" in card_text(summary)  # the manager's short-lived link
        async with demo.session.get(demo.base + "/dashboard/data?days=7") as r:
            figures = await r.json()  # the demo's dashboard is open and counts the new ticket
        assert r.status == 200 and figures["kpi"]["created"] >= 1


async def _has(texts, needle: str) -> bool:  # type: ignore[no-untyped-def]
    return any(needle in t for t in await texts)


async def _summary(demo, platform: str):  # type: ignore[no-untyped-def]
    cards = await demo.cards(platform, "chen")
    return next((c for c in cards if "服务统计" in card_text(c)), None)


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_photo_reaches_chatdesk_through_the_fake_media_api(
    tmp_path: Path, platform: str
) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    async with start_demo(tmp_path) as demo:
        form = aiohttp.FormData()
        form.add_field("platform", platform)
        form.add_field("person", "c-liuyang")
        form.add_field("photo", png, filename="a.png", content_type="image/png")
        async with demo.session.post(demo.base + "/sandbox/api/photo", data=form) as r:
            assert r.status == 200, await r.text()

        async def fetched() -> int:
            return await _count(demo.app, db.media)

        assert await demo.wait(fetched) == 1  # downloaded by chatdesk from the fake API
        mine = [e for e in await demo.entries(platform, "c-liuyang") if e["kind"] == "image"]
        async with demo.session.get(demo.base + mine[0]["image_url"]) as r:
            assert await r.read() == png


async def test_home_redirects_and_page_has_the_contract_controls(tmp_path: Path) -> None:
    async with start_demo(tmp_path) as demo:
        async with demo.session.get(demo.base + "/", allow_redirects=False) as r:
            assert r.status == 302 and r.headers["Location"] == "/sandbox"
        async with demo.session.get(demo.base + "/sandbox") as r:
            html = await r.text()
        for needle in (
            "企业微信",
            "钉钉",
            "重置",
            "发送",
            'type="file"',
            "<textarea",
            "/dashboard",
        ):
            assert needle in html
        state = await demo.state()
        names = {p["name"] for p in state["people"]}
        assert {"刘洋", "张伟", "王强", "赵敏", "陈静"} <= names
        regions = {p["name"]: p["region"] for p in state["people"]}
        assert regions["张伟"] == "华东"
        async with demo.app[SERVICES].engine.connect() as conn:
            t = db.tickets
            open_for_demo = await conn.execute(
                select(func.count()).where(
                    t.c.status.not_in(["closed", "cancelled"]),
                    (t.c.requester_id == "c-liuyang")
                    | (t.c.fields["device"].as_string() == "HX-2000-01"),
                )
            )
            assert open_for_demo.scalar() == 0  # 刘洋's first report opens a new ticket


async def test_reset_restores_the_demo(tmp_path: Path) -> None:
    async with start_demo(tmp_path) as demo:
        seeded = await _count(demo.app, db.tickets)
        assert await demo.report("wecom", "c-liuyang", "报修 HX-2000-01 漏油") == f"#{seeded + 1}"
        assert await _count(demo.app, db.tickets) == seeded + 1
        status, body = await demo.post("/sandbox/api/reset", {})
        assert status == 200 and body["tickets"] == seeded
        assert await _count(demo.app, db.tickets) == seeded
        assert await _count(demo.app, db.kb_articles) == 6  # the demo's knowledge base is back
        assert (await demo.state())["entries"] == []
        # numbering continues from the seeded history, and 刘洋 is still 刘洋
        assert await demo.report("wecom", "c-liuyang", "报修 HX-2000-01 漏油") == f"#{seeded + 1}"


async def test_bad_requests_are_refused(tmp_path: Path) -> None:
    async with start_demo(tmp_path) as demo:
        say = "/sandbox/api/say"
        assert (await demo.post(say, {"platform": "qq", "person": "zhang", "text": "x"}))[0] == 422
        assert (await demo.post(say, {"platform": "wecom", "person": "nobody", "text": "x"}))[
            0
        ] == 422
        assert (await demo.post(say, {"platform": "wecom", "person": "zhang", "text": " "}))[
            0
        ] == 422
        assert (await demo.post(say, {"platform": "wecom", "person": "zhang", "text": "x" * 2001}))[
            0
        ] == 422
        assert (await demo.post(say, ["not", "an", "object"]))[0] == 400
        async with demo.session.post(demo.base + say, data="platform=wecom") as r:
            assert r.status == 415  # a form post from another site cannot drive the sandbox
        click = {"platform": "wecom", "person": "zhang", "card": "t1_assign_1", "action": "x"}
        assert (await demo.post("/sandbox/api/click", click))[0] == 404
        form = aiohttp.FormData()
        form.add_field("platform", "wecom")
        form.add_field("person", "zhang")
        form.add_field(
            "photo", b"MZ not an image", filename="a.exe", content_type="application/x-msdownload"
        )
        async with demo.session.post(demo.base + "/sandbox/api/photo", data=form) as r:
            assert r.status == 422
        assert await _count(demo.app, db.inbox) == 0  # nothing reached chatdesk


async def test_fake_platform_apis_check_credentials(tmp_path: Path) -> None:
    async with start_demo(tmp_path) as demo:
        fake = demo.base + "/sandbox/fake"
        async with demo.session.get(
            fake + "/wecom/cgi-bin/gettoken",
            params={"corpid": "wwsandbox0000demo", "corpsecret": "guess"},
        ) as r:
            assert (await r.json())["errcode"] == 40001
        async with demo.session.post(
            fake + "/wecom/cgi-bin/message/send", params={"access_token": "guess"}, json={}
        ) as r:
            assert (await r.json())["errcode"] == 40014
        async with demo.session.post(
            fake + "/dingtalk/v1.0/robot/oToMessages/batchSend", json={"userIds": ["zhangwei"]}
        ) as r:
            assert r.status == 401
        # and chatdesk's own webhooks refuse a callback without the demo's secrets
        async with demo.session.post(
            demo.base + "/webhooks/dingtalk/robot", json={"msgtype": "text"}
        ) as r:
            assert r.status == 401


async def test_demo_never_writes_the_configured_database(tmp_path: Path) -> None:
    configured = tmp_path / "production.db"
    async with start_demo(tmp_path, database_url=f"sqlite+aiosqlite:///{configured}") as demo:
        await demo.report("wecom", "c-liuyang", "报修 HX-2000-01 漏油")
        assert str(demo.app[SERVICES].engine.url).endswith("demo.db")
    assert not configured.exists()
