"""DingTalk end to end: signed robot callbacks and card clicks in, calls on the fake API out."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.tencent_crypto import TencentCrypto
from tests.e2e.helpers import eventually, inbox_count, outbox_rows, ticket_history
from tests.fakes.dingtalk_api import FakeDingtalk, start_fake_dingtalk
from webhooks.app import create_app

APP_KEY, APP_SECRET, CARD_SECRET = "dingfakeappkey", "fake-app-secret-xyz", "card-api-secret"
EVENT_TOKEN = "event-token-123"
EVENT_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
CONFIG = """
people:
  - {id: zhang, name: 张伟, roles: [engineer], dingtalk_userid: "0123456"}
  - {id: chen, name: 陈经理, roles: [manager], dingtalk_userid: "0999"}
"""


@pytest.fixture
async def fake() -> AsyncIterator[FakeDingtalk]:
    server = await start_fake_dingtalk(app_key=APP_KEY, app_secret=APP_SECRET)
    yield server
    await server.close()


@pytest.fixture
async def client(aiohttp_client, make_settings, fake: FakeDingtalk) -> TestClient:
    settings = make_settings(
        CONFIG,
        dingtalk={
            "app_key": APP_KEY,
            "app_secret": APP_SECRET,
            "card_callback_secret": CARD_SECRET,
            "event_token": EVENT_TOKEN,
            "event_aes_key": EVENT_AES_KEY,
            "api_base": fake.base_url,
            "oapi_base": fake.base_url,
            "request_timeout_s": 2.0,
        },
        workers={"inbox_poll_s": 0.05, "outbox_poll_s": 0.05, "retry_base_s": 0.1},
    )
    return await aiohttp_client(create_app(settings))


def _b64_hmac(key: str, message: str) -> str:
    return base64.b64encode(
        hmac.new(key.encode(), message.encode(), hashlib.sha256).digest()
    ).decode()


def robot_headers(*, secret: str = APP_SECRET, ts: str | None = None) -> dict[str, str]:
    """Signed as the spec says: base64(HMAC-SHA256(appSecret, timestamp + "\\n" + appSecret))."""
    ts = ts or str(int(time.time() * 1000))
    return {
        "timestamp": ts,
        "sign": _b64_hmac(secret, f"{ts}\n{secret}"),
        "Content-Type": "application/json",
    }


def robot_text(user: str, text: str, msg_id: str) -> dict[str, Any]:
    return {
        "msgId": msg_id,
        "createAt": int(time.time() * 1000),
        "conversationType": "1",
        "conversationId": f"cid{user}",
        "senderId": f"$:LWCP_v1:${user}",
        "senderNick": "客户",
        "senderStaffId": user,
        "chatbotUserId": "$:LWCP_v1:$robot",
        "robotCode": APP_KEY,
        "msgtype": "text",
        "text": {"content": text},
    }


def card_click(user: str, track_id: str, action: str) -> tuple[dict[str, str], bytes]:
    ts = str(int(time.time() * 1000))
    body = {
        "type": "actionCallback",
        "outTrackId": track_id,
        "userId": user,
        "content": json.dumps({"cardPrivateData": {"actionIds": [action], "params": {}}}),
    }
    headers = {
        "x-ddpaas-signature-timestamp": ts,
        "x-ddpaas-signature": _b64_hmac(CARD_SECRET, ts),
        "Content-Type": "application/json",
    }
    return headers, json.dumps(body).encode()


def texts_to(fake: FakeDingtalk, user: str) -> list[str]:
    return [
        json.loads(m["msgParam"]).get("content", "")
        for m in fake.messages
        if m["kind"] == "oto" and user in m["userIds"]
    ]


async def post_robot(client: TestClient, payload: dict[str, Any], **kw: Any) -> Any:
    return await client.post(
        "/webhooks/dingtalk/robot", data=json.dumps(payload), headers=robot_headers(**kw)
    )


async def test_robot_message_in_reply_out(client: TestClient, fake: FakeDingtalk) -> None:
    r = await post_robot(client, robot_text("kehu01", "报修 A-1024 注塑机漏油", "msgA1"))
    assert r.status == 200
    assert json.loads(await r.read()) == {"msgtype": "empty"}
    replies = await eventually(lambda: texts_to(fake, "kehu01"))
    assert "#1" in replies[0]
    assert await ticket_history(client.app, 1) == ["opened", "status_changed:assigned"]


async def test_retried_robot_callback_changes_nothing(
    client: TestClient, fake: FakeDingtalk
) -> None:
    payload = robot_text("kehu02", "帮助", "msgA2")
    results = await asyncio.gather(*(post_robot(client, payload) for _ in range(4)))
    assert {r.status for r in results} == {200}
    await eventually(lambda: texts_to(fake, "kehu02"))
    await asyncio.sleep(0.3)
    assert await inbox_count(client.app, "dingtalk") == 1
    assert len(texts_to(fake, "kehu02")) == 1


async def test_an_api_outage_loses_nothing(client: TestClient, fake: FakeDingtalk) -> None:
    fake.http_500(times=4)
    r = await post_robot(client, robot_text("kehu03", "帮助", "msgA3"))
    assert r.status == 200
    await eventually(lambda: texts_to(fake, "kehu03"), timeout=30)
    await asyncio.sleep(0.3)
    assert len(texts_to(fake, "kehu03")) == 1
    assert {row["status"] for row in await outbox_rows(client.app)} == {"done"}


async def test_card_click_updates_the_card_and_a_double_click_changes_nothing(
    client: TestClient, fake: FakeDingtalk, auth: dict
) -> None:
    created = await client.post(
        "/api/v1/tickets",
        json={"title": "漏油", "fields": {"device": "A-1", "symptom": "漏油"}},
        headers=auth,
    )
    ticket = await created.json()
    await client.post(
        f"/api/v1/tickets/{ticket['id']}/assign", json={"assignee": "zhang"}, headers=auth
    )
    await eventually(lambda: fake.robot_cards)
    ((track_id, state),) = fake.robot_cards.items()
    card_json = json.dumps(state["data"], ensure_ascii=False) + json.dumps(
        state["private"], ensure_ascii=False
    )
    assert "接单" in card_json and "拒单" in card_json
    accept = next(
        a["id"]
        for block in _all_blocks(state)
        for a in block.get("actions", [])
        if a.get("label", {}).get("text") == "接单"
    )

    # the same payload posted as another person (copied from zhang's card) is refused politely
    headers, body = card_click("0999", track_id, accept)
    r = await client.post("/webhooks/dingtalk/card", data=body, headers=headers)
    assert r.status == 200
    assert "卡片已失效" in (await eventually(lambda: texts_to(fake, "0999")))[0]
    assert "status_changed:accepted" not in await ticket_history(client.app, ticket["id"])

    headers, body = card_click("0123456", track_id, accept)
    first = await asyncio.gather(
        *(client.post("/webhooks/dingtalk/card", data=body, headers=headers) for _ in range(2))
    )
    assert {r.status for r in first} == {200}
    await eventually(lambda: fake.robot_cards[track_id]["updates"] >= 1)
    assert "已接单" in json.dumps(fake.robot_cards[track_id]["data"], ensure_ascii=False)
    history = await ticket_history(client.app, ticket["id"])
    assert history.count("status_changed:accepted") == 1
    assert await inbox_count(client.app, "dingtalk") == 2


def _all_blocks(state: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = list(state["data"].get("contents", []))
    for private in state["private"].values():
        data = private if isinstance(private, dict) else {}
        blocks.extend(data.get("contents", []))
    return blocks


@pytest.mark.parametrize(
    ("path", "headers", "body", "status"),
    [
        ("robot", {"timestamp": "1", "sign": "x"}, b"{}", 401),
        ("robot", {}, b"{}", 401),
        ("robot", "stale", b"{}", 401),
        ("robot", "wrong-secret", b"{}", 401),
        ("robot", "ok", b"{not json", 400),
        ("robot", "ok", b"x" * (70 * 1024), 413),
        ("card", {"x-ddpaas-signature-timestamp": "1", "x-ddpaas-signature": "forged"}, b"{}", 401),
        ("card", {}, b'{"outTrackId":"t1","userId":"0123456","content":"{}"}', 401),
        (
            "card",
            "card-wrong-secret",
            b'{"outTrackId":"t1","userId":"0123456","content":"{}"}',
            401,
        ),
    ],
)
async def test_bad_input_is_refused_and_stores_nothing(
    client: TestClient, path: str, headers: Any, body: bytes, status: int
) -> None:
    if headers == "ok":
        headers = robot_headers()
    elif headers == "stale":
        headers = robot_headers(ts=str(int(time.time() * 1000) - 2 * 3600 * 1000))
    elif headers == "card-wrong-secret":
        ts = str(int(time.time() * 1000))
        headers = {"x-ddpaas-signature-timestamp": ts, "x-ddpaas-signature": _b64_hmac("x", ts)}
    elif headers == "wrong-secret":
        headers = robot_headers(secret="not-the-secret")
    r = await client.post(f"/webhooks/dingtalk/{path}", data=body, headers=headers)
    assert r.status == status
    assert "Traceback" not in await r.text()
    assert await inbox_count(client.app) == 0


def sealed_event(
    plaintext: dict[str, Any], *, owner: str = APP_KEY
) -> tuple[dict[str, str], bytes]:
    """An event as DingTalk sends it: AES envelope with the owner key, SHA1 over the sorted four."""
    crypto = TencentCrypto(EVENT_TOKEN, EVENT_AES_KEY, owner)
    enc = crypto.encrypt(json.dumps(plaintext))
    ts, nonce = str(int(time.time() * 1000)), "nonce123"
    sig = hashlib.sha1("".join(sorted([EVENT_TOKEN, ts, nonce, enc])).encode()).hexdigest()
    return {"msg_signature": sig, "timeStamp": ts, "nonce": nonce}, json.dumps(
        {"encrypt": enc}
    ).encode()


def open_reply(body: bytes) -> str:
    reply = json.loads(body)
    sig = hashlib.sha1(
        "".join(
            sorted([EVENT_TOKEN, reply["timeStamp"], reply["nonce"], reply["encrypt"]])
        ).encode()
    ).hexdigest()
    assert sig == reply["msg_signature"]
    return TencentCrypto(EVENT_TOKEN, EVENT_AES_KEY, APP_KEY).decrypt(reply["encrypt"]).decode()


async def test_check_url_answers_the_encrypted_success(client: TestClient) -> None:
    query, body = sealed_event({"EventType": "check_url"})
    r = await client.post("/webhooks/dingtalk/events", params=query, data=body)
    assert r.status == 200
    assert open_reply(await r.read()) == "success"
    assert await inbox_count(client.app) == 0


async def test_event_is_stored_once_and_acknowledged(client: TestClient) -> None:
    event = {
        "EventType": "user_add_org",
        "TimeStamp": "1700000000000",
        "UserId": ["u1"],
        "EventId": "ev-1",
    }
    for _ in range(2):
        query, body = sealed_event(event)
        r = await client.post("/webhooks/dingtalk/events", params=query, data=body)
        assert r.status == 200 and open_reply(await r.read()) == "success"
    assert await inbox_count(client.app, "dingtalk") == 1


async def test_event_for_another_owner_key_is_refused(client: TestClient) -> None:
    query, body = sealed_event({"EventType": "user_add_org"}, owner="someone-else")
    r = await client.post("/webhooks/dingtalk/events", params=query, data=body)
    assert r.status == 400
    query, _ = sealed_event({"EventType": "user_add_org"})
    r = await client.post(
        "/webhooks/dingtalk/events",
        params={**query, "msg_signature": "0" * 40},
        data=b'{"encrypt":"abc"}',
    )
    assert r.status == 401
    assert await inbox_count(client.app) == 0


async def test_group_message_at_the_robot_is_answered_in_the_group(
    client: TestClient, fake: FakeDingtalk
) -> None:
    payload = {
        **robot_text("kehu09", "报修 A-1024 注塑机漏油", "msgG1"),
        "conversationType": "2",
        "conversationId": "cidGroupABC",
        "isInAtList": True,
    }
    r = await post_robot(client, payload)
    assert r.status == 200
    sent = await eventually(lambda: [m for m in fake.messages if m["kind"] == "group"])
    assert sent[0]["openConversationId"] == "cidGroupABC"
    assert "#1" in json.loads(sent[0]["msgParam"])["content"]
    not_at = {**payload, "msgId": "msgG2", "isInAtList": False, "text": {"content": "大家好"}}
    r = await post_robot(client, not_at)
    assert r.status == 200
    assert (
        await inbox_count(client.app, "dingtalk") == 1
    )  # a group message not @-ing the robot is ignored


async def test_a_signed_robot_message_from_no_single_person_is_refused(client: TestClient) -> None:
    payload = {**robot_text("kehu", "帮助", "msgBad1"), "senderStaffId": "@all"}
    r = await post_robot(client, payload)
    assert r.status == 400
    assert await inbox_count(client.app) == 0


async def test_a_nul_in_a_message_is_dropped_not_fatal(
    client: TestClient, fake: FakeDingtalk
) -> None:
    """PostgreSQL refuses NUL in text: it is removed before the message is stored."""
    payload = robot_text("kehu10", "报修 注塑机\u0000漏油", "msgNul1")
    payload["senderNick"] = "客\u0000户"
    r = await post_robot(client, payload)
    assert r.status == 200
    replies = await eventually(lambda: texts_to(fake, "kehu10"))
    assert "\x00" not in "".join(replies)
    rows = await outbox_rows(client.app)
    assert rows and all(r["status"] != "dead" for r in rows)
