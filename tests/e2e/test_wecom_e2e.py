"""WeCom end to end: real encrypted callbacks into the app, replies on the fake WeCom API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.tencent_crypto import TencentCrypto
from tests.e2e.helpers import eventually, inbox_count, outbox_rows, ticket_history
from tests.fakes.wecom_api import AGENT_ID, SECRET, FakeWecom, start_fake_wecom
from tests.fakes.wecom_support import envelope, params
from webhooks.app import create_app

CONFIG = """
people:
  - {id: zhang, name: 张伟, roles: [engineer], wecom_userid: zhangwei}
  - {id: li, name: 李娜, roles: [agent], wecom_userid: lina}
"""


@pytest.fixture
async def fake() -> AsyncIterator[FakeWecom]:
    async with start_fake_wecom() as server:
        yield server


@pytest.fixture
async def client(aiohttp_client, make_settings, fake: FakeWecom) -> TestClient:
    p = params()
    settings = make_settings(
        CONFIG,
        wecom={
            "corp_id": p["corpid"],
            "agent_id": AGENT_ID,
            "secret": SECRET,
            "token": p["token"],
            "encoding_aes_key": p["encoding_aes_key"],
            "api_base": fake.base_url,
            "request_timeout_s": 2.0,
        },
        workers={
            "inbox_poll_s": 0.05,
            "outbox_poll_s": 0.05,
            "retry_base_s": 0.1,
            "retry_cap_s": 2.0,
        },
    )
    return await aiohttp_client(create_app(settings))


def seal(plaintext: str, *, nonce: str = "n0nce") -> tuple[dict[str, str], bytes]:
    p = params()
    crypto = TencentCrypto(p["token"], p["encoding_aes_key"], p["corpid"])
    ts = str(int(time.time()))
    enc = crypto.encrypt(plaintext)
    return {
        "msg_signature": crypto.signature(ts, nonce, enc),
        "timestamp": ts,
        "nonce": nonce,
    }, envelope(enc)


def text_xml(user: str, text: str, msg_id: str) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{params()['corpid']}]]></ToUserName>"
        f"<FromUserName><![CDATA[{user}]]></FromUserName><CreateTime>{int(time.time())}</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{text}]]></Content>"
        f"<MsgId>{msg_id}</MsgId><AgentID>{AGENT_ID}</AgentID></xml>"
    )


def click_xml(user: str, event_key: str, task_id: str, code: str) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{params()['corpid']}]]></ToUserName>"
        f"<FromUserName><![CDATA[{user}]]></FromUserName><CreateTime>{int(time.time())}</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[template_card_event]]></Event>"
        f"<EventKey><![CDATA[{event_key}]]></EventKey><TaskId><![CDATA[{task_id}]]></TaskId>"
        "<CardType><![CDATA[button_interaction]]></CardType>"
        f"<ResponseCode><![CDATA[{code}]]></ResponseCode><AgentID>{AGENT_ID}</AgentID></xml>"
    )


async def post(client: TestClient, plaintext: str) -> Any:
    query, body = seal(plaintext)
    return await client.post("/webhooks/wecom", params=query, data=body)


def texts_to(fake: FakeWecom, user: str) -> list[str]:
    return [
        c["text"]["content"]
        for c in fake.sent
        if c.get("touser") == user and c.get("msgtype") == "text"
    ]


async def test_url_verification_answers_the_decrypted_echostr(client: TestClient) -> None:
    p = params()
    crypto = TencentCrypto(p["token"], p["encoding_aes_key"], p["corpid"])
    ts = str(int(time.time()))
    echostr = crypto.encrypt("echo-4711")
    query = {
        "msg_signature": crypto.signature(ts, "n", echostr),
        "timestamp": ts,
        "nonce": "n",
        "echostr": echostr,
    }
    r = await client.get("/webhooks/wecom", params=query)
    assert r.status == 200
    assert await r.text() == "echo-4711"


async def test_text_in_reply_out(client: TestClient, fake: FakeWecom) -> None:
    r = await post(client, text_xml("kehu01", "报修 A-1024 注塑机报警 E31", "7001"))
    assert r.status == 200 and await r.read() == b""
    replies = await eventually(lambda: texts_to(fake, "kehu01"))
    assert "#1" in replies[0] and "设备报修" in replies[0]
    assert await ticket_history(client.app, 1) == ["opened", "status_changed:assigned"]


async def test_the_same_callback_four_times_gives_one_row_and_one_reply(
    client: TestClient, fake: FakeWecom
) -> None:
    plaintext = text_xml("kehu02", "帮助", "7002")
    first = await post(client, plaintext)
    rest = await asyncio.gather(*(post(client, plaintext) for _ in range(3)))
    assert [first.status, *(r.status for r in rest)] == [200, 200, 200, 200]
    await eventually(lambda: texts_to(fake, "kehu02"))
    await asyncio.sleep(0.3)  # give a duplicate every chance to show up
    assert await inbox_count(client.app, "wecom") == 1
    assert len(texts_to(fake, "kehu02")) == 1


async def test_an_api_outage_loses_nothing_and_duplicates_nothing(
    client: TestClient, fake: FakeWecom
) -> None:
    fake.fail_with(-1, for_seconds=30)  # thirty seconds of "system busy" on every call
    for i in range(3):
        r = await post(client, text_xml(f"kehu1{i}", "帮助", f"71{i}"))
        assert r.status == 200
    for i in range(3):
        await eventually(lambda i=i: texts_to(fake, f"kehu1{i}"), timeout=60)
    await asyncio.sleep(0.3)
    assert all(len(texts_to(fake, f"kehu1{i}")) == 1 for i in range(3))
    assert {row["status"] for row in await outbox_rows(client.app)} == {"done"}


async def test_card_click_reaches_the_bus_and_updates_the_card(
    client: TestClient, fake: FakeWecom, auth: dict
) -> None:
    created = await client.post(
        "/api/v1/tickets",
        json={"title": "注塑机报警", "fields": {"device": "A-1024", "symptom": "E31"}},
        headers=auth,
    )
    ticket = await created.json()
    await client.post(
        f"/api/v1/tickets/{ticket['id']}/assign", json={"assignee": "zhang"}, headers=auth
    )
    cards = await eventually(lambda: [c for c in fake.sent if c.get("msgtype") == "template_card"])
    card = cards[0]["template_card"]
    assert cards[0]["touser"] == "zhangwei"
    buttons = {b["text"]: b["key"] for b in card["button_list"]}
    assert set(buttons) == {"接单", "拒单"}

    code = fake.issue_response_code(card["task_id"])
    r = await post(client, click_xml("zhangwei", buttons["接单"], card["task_id"], code))
    assert r.status == 200
    updates = await eventually(lambda: fake.updates)
    assert updates[0]["response_code"] == code
    assert "已接单" in str(updates[0])
    history = await eventually(
        lambda: ticket_history(client.app, ticket["id"]),
    )
    await eventually(lambda: _accepted(client, ticket["id"]))

    # a second click on the finished card changes nothing
    code2 = fake.issue_response_code(card["task_id"])
    await post(client, click_xml("zhangwei", buttons["接单"], card["task_id"], code2))
    await asyncio.sleep(0.5)
    assert (await ticket_history(client.app, ticket["id"])).count("status_changed:accepted") == 1
    assert history[0] == "opened"


async def _accepted(client: TestClient, ticket_id: int) -> bool:
    return "status_changed:accepted" in await ticket_history(client.app, ticket_id)


async def test_forged_click_changes_nothing(
    client: TestClient, fake: FakeWecom, auth: dict
) -> None:
    created = await client.post(
        "/api/v1/tickets",
        json={"title": "x", "fields": {"device": "A-1", "symptom": "y"}},
        headers=auth,
    )
    ticket = await created.json()
    await client.post(
        f"/api/v1/tickets/{ticket['id']}/assign", json={"assignee": "zhang"}, headers=auth
    )
    cards = await eventually(lambda: [c for c in fake.sent if c.get("msgtype") == "template_card"])
    task_id = cards[0]["template_card"]["task_id"]
    forged = f"v1.accept.{ticket['id']}.{task_id}..{'0' * 32}"
    r = await post(
        client, click_xml("zhangwei", forged, task_id, fake.issue_response_code(task_id))
    )
    assert r.status == 200  # stored (the signature of the callback itself is fine) ...
    await eventually(lambda: _inbox_done(client))
    assert "status_changed:accepted" not in await ticket_history(
        client.app, ticket["id"]
    )  # ... but refused
    assert fake.updates == []


async def _inbox_done(client: TestClient) -> bool:
    from sqlalchemy import select

    from core import db
    from webhooks.keys import SERVICES

    async with client.app[SERVICES].engine.connect() as conn:
        statuses = {r.status for r in await conn.execute(select(db.inbox.c.status))}
    return statuses == {"done"}


def _bad_requests() -> dict[str, tuple[dict[str, str], bytes]]:
    p = params()
    crypto = TencentCrypto(p["token"], p["encoding_aes_key"], p["corpid"])
    good_xml = text_xml("kehu", "hi", "9001")
    now = str(int(time.time()))

    def signed(
        enc: str, *, ts: str = now, body: bytes | None = None
    ) -> tuple[dict[str, str], bytes]:
        q = {"msg_signature": crypto.signature(ts, "n", enc), "timestamp": ts, "nonce": "n"}
        return q, body if body is not None else envelope(enc)

    enc = crypto.encrypt(good_xml)
    other = TencentCrypto(p["token"], p["encoding_aes_key"], "wwSomeOtherCorp0000")
    bad_pad = base64_encrypt_raw(p["encoding_aes_key"], b"\x00" * 31 + b"\x40")
    xxe = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Encrypt>&e;</Encrypt></xml>'
    laughs = b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><xml><Encrypt>&c;</Encrypt></xml>'
    return {
        "bad signature": ({**signed(enc)[0], "msg_signature": "0" * 40}, envelope(enc)),
        "stale timestamp": signed(enc, ts=str(int(time.time()) - 3600)),
        "wrong corp id": signed(other.encrypt(good_xml)),
        "broken base64": signed("%%%not-base64%%%"),
        "bad padding": signed(bad_pad),
        "xxe": signed(enc, body=xxe),
        "billion laughs": signed(enc, body=laughs),
        "oversized body": signed(enc, body=b"<xml>" + b"x" * (70 * 1024) + b"</xml>"),
        "missing query parameters": ({}, envelope(enc)),
        "missing nonce": ({k: v for k, v in signed(enc)[0].items() if k != "nonce"}, envelope(enc)),
    }


def base64_encrypt_raw(encoding_aes_key: str, block: bytes) -> str:
    """AES-CBC of a raw 32-byte block, so the padding byte is whatever the test chose."""
    import base64 as b64

    from Crypto.Cipher import AES

    key = b64.b64decode(encoding_aes_key + "=")
    return b64.b64encode(AES.new(key, AES.MODE_CBC, key[:16]).encrypt(block)).decode()


@pytest.mark.parametrize("case", list(_bad_requests()))
async def test_bad_input_is_a_4xx_and_stores_nothing(client: TestClient, case: str) -> None:
    query, body = _bad_requests()[case]
    r = await client.post("/webhooks/wecom", params=query, data=body)
    assert 400 <= r.status < 500, (case, r.status)
    assert "Traceback" not in await r.text()
    assert await inbox_count(client.app) == 0


@pytest.mark.parametrize("user", ["@all", "zhangwei|lisi", "_x", "zhang wei"])
async def test_a_signed_callback_from_no_single_person_is_refused(
    client: TestClient, fake: FakeWecom, user: str
) -> None:
    r = await post(client, text_xml(user, "帮助", f"m-{abs(hash(user))}"))
    assert r.status == 400 and "Traceback" not in await r.text()
    await asyncio.sleep(0.2)
    assert await inbox_count(client.app) == 0 and fake.sent == []
