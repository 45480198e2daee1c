"""DingTalk Stream mode end to end: the real app opens its connection through the official SDK
to the fake gateway; frames go in, acks and API calls come out."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import text

from tests.conftest import PG_URL
from tests.e2e.helpers import eventually, inbox_count, ticket_history
from tests.e2e.test_dingtalk_e2e import robot_text, texts_to
from tests.fakes.dingtalk_api import FakeDingtalk, start_fake_dingtalk
from tests.fakes.dingtalk_stream import FakeStreamGateway, Push, start_fake_gateway
from webhooks.app import create_app
from webhooks.keys import SERVICES

APP_KEY, APP_SECRET = "dingstreamappkey", "stream-app-secret-xyz"
ENGINEER = "0123456"
CONFIG = f"""
people:
  - {{id: zhang, name: 张伟, roles: [engineer], dingtalk_userid: "{ENGINEER}"}}
"""
_seq = itertools.count(1)


def stream_settings(api: FakeDingtalk, gateway: FakeStreamGateway, **extra: Any) -> dict[str, Any]:
    return {
        "app_key": APP_KEY,
        "app_secret": APP_SECRET,
        "mode": "stream",
        "stream_gateway": gateway.base_url,
        "stream_backoff_base_s": 0.05,
        "stream_backoff_cap_s": 0.4,
        "stream_ready_grace_s": 1.0,
        "api_base": api.base_url,
        "oapi_base": api.base_url,
        "request_timeout_s": 2.0,
        **extra,
    }


WORKERS = {"inbox_poll_s": 0.05, "outbox_poll_s": 0.05, "retry_base_s": 0.1}


@dataclass
class Rig:
    client: TestClient
    api: FakeDingtalk
    gateway: FakeStreamGateway


@pytest.fixture
async def api() -> AsyncIterator[FakeDingtalk]:
    server = await start_fake_dingtalk(app_key=APP_KEY, app_secret=APP_SECRET)
    yield server
    await server.close()


@pytest.fixture
async def gateway() -> AsyncIterator[FakeStreamGateway]:
    server = await start_fake_gateway(client_id=APP_KEY, client_secret=APP_SECRET)
    yield server
    await server.close()


@pytest.fixture
async def rig(aiohttp_client, make_settings, api, gateway) -> Rig:
    settings = make_settings(CONFIG, dingtalk=stream_settings(api, gateway), workers=WORKERS)
    client = await aiohttp_client(create_app(settings))
    await eventually(lambda: gateway.conns, timeout=10)
    return Rig(client, api, gateway)


def robot_message(user: str, text_: str) -> dict[str, Any]:
    """The robot-message data of a Stream frame: the HTTP body of §1.2, without sign headers."""
    return robot_text(user, text_, f"msgS{next(_seq)}")


def done(*pushes: Push) -> bool:
    return all(p.done for p in pushes)


async def accept_button(api: FakeDingtalk) -> tuple[str, str]:
    await eventually(lambda: api.robot_cards)
    ((track_id, state),) = api.robot_cards.items()
    blocks = list(state["data"].get("contents", []))
    for private in state["private"].values():
        blocks.extend(private.get("contents", []) if isinstance(private, dict) else [])
    action = next(
        a["id"]
        for b in blocks
        for a in b.get("actions", [])
        if a.get("label", {}).get("text") == "接单"
    )
    return track_id, action


def card_click(user: str, track_id: str, action: str) -> dict[str, Any]:
    return {
        "type": "actionCallback",
        "outTrackId": track_id,
        "userId": user,
        "corpId": "dingcorp0001",
        "spaceType": "IM_ROBOT",
        "spaceId": user,
        "userIdType": 1,
        "content": json.dumps({"cardPrivateData": {"actionIds": [action], "params": {}}}),
    }


async def test_message_ticket_card_and_click_over_the_stream(rig: Rig) -> None:
    opened = rig.gateway.opens[0]
    topics = {(s["type"], s["topic"]) for s in opened["subscriptions"]}
    assert topics == {
        ("CALLBACK", "/v1.0/im/bot/messages/get"),
        ("CALLBACK", "/v1.0/card/instances/callback"),
        ("EVENT", "*"),
    }
    push = await rig.gateway.push_robot(robot_message("kehu01", "报修 A-1024 注塑机漏油"))
    await eventually(lambda: done(push))
    assert json.loads(push.acks[-1]["data"]) == {"response": {}}
    replies = await eventually(lambda: texts_to(rig.api, "kehu01"))
    assert "#1" in replies[0]

    track_id, action = await accept_button(rig.api)
    sent = rig.api.robot_cards[track_id]["request"]
    assert "callbackUrl" not in sent  # no HTTP callback in stream mode
    click = await rig.gateway.push_card(card_click(ENGINEER, track_id, action))
    await eventually(lambda: done(click))
    await eventually(lambda: rig.api.robot_cards[track_id]["updates"] >= 1)
    assert "已接单" in json.dumps(rig.api.robot_cards[track_id]["data"], ensure_ascii=False)
    assert (await ticket_history(rig.client.app, 1)).count("status_changed:accepted") == 1
    assert rig.gateway.ack_problems == []
    # the webhook routes are not mounted in stream mode unless asked for
    r = await rig.client.post("/webhooks/dingtalk/robot", data=b"{}")
    assert r.status == 404


async def metric(client: TestClient, name: str) -> float:
    body = await (await client.get("/metrics")).text()
    total = 0.0
    for line in body.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_a_dropped_connection_comes_back_and_nothing_is_lost_or_doubled(rig: Rig) -> None:
    users = [f"kehu2{i}" for i in range(6)]
    first = [await rig.gateway.push_robot(robot_message(u, "帮助")) for u in users[:2]]
    await eventually(lambda: done(*first))
    rig.gateway.refuse_opens = 10_000  # keep the client out for a while after the break
    # the line breaks just as the third frame's ack goes out: stored, never acknowledged
    cut = await rig.gateway.push_robot(robot_message(users[2], "帮助"), drop_on_ack=True)
    await eventually(lambda: cut.acks)
    assert not rig.gateway.conns
    # frames that come while nobody is connected wait for the next connection
    later = [await rig.gateway.push_robot(robot_message(u, "帮助")) for u in users[3:]]
    tried = rig.gateway.open_attempts
    await eventually(lambda: rig.gateway.open_attempts >= tried + 3)  # it keeps trying
    assert all(not p.deliveries for p in later)
    rig.gateway.refuse_opens = 0
    await eventually(lambda: done(cut, *later), timeout=15)
    assert len(cut.deliveries) == 2  # the gateway delivered it again on the new connection
    assert rig.gateway.connections_made == 2
    for u in users:
        await eventually(lambda u=u: texts_to(rig.api, u))
    await asyncio.sleep(0.3)
    assert [len(texts_to(rig.api, u)) for u in users] == [1] * 6
    assert await inbox_count(rig.client.app, "dingtalk") == 6
    assert await metric(rig.client, "chatdesk_dingtalk_stream_reconnects_total") == 1
    assert await metric(rig.client, "chatdesk_dingtalk_stream_connected") == 1
    assert (
        await metric(
            rig.client,
            'chatdesk_dingtalk_stream_frames_total{outcome="duplicate",topic="/v1.0/im/bot/messages/get"}',
        )
        == 1
    )
    assert rig.gateway.ack_problems == []


async def test_a_failed_inbox_write_is_not_acknowledged_and_runs_once_after_redelivery(
    rig: Rig,
) -> None:
    engine = rig.client.app[SERVICES].engine
    async with engine.begin() as conn:  # the database refuses the write (a real failure)
        await conn.execute(text("ALTER TABLE inbox RENAME TO inbox_away"))
    push = await rig.gateway.push_robot(robot_message("kehu30", "帮助"))
    await eventually(lambda: push.acks)
    assert push.acks[0]["code"] == 500 and not push.done
    async with engine.begin() as conn:
        await conn.execute(text("ALTER TABLE inbox_away RENAME TO inbox"))
    await eventually(lambda: done(push), timeout=15)
    assert push.acks[-1]["code"] == 200
    assert len(push.deliveries) >= 2
    await eventually(lambda: texts_to(rig.api, "kehu30"))
    await asyncio.sleep(0.3)
    assert len(texts_to(rig.api, "kehu30")) == 1
    assert await inbox_count(rig.client.app, "dingtalk") == 1
    assert await metric(rig.client, 'chatdesk_dingtalk_stream_frames_total{outcome="failed"') >= 1


async def test_two_instances_and_a_redelivery_to_the_other_make_one_ticket(
    aiohttp_client, make_settings, api: FakeDingtalk, gateway: FakeStreamGateway
) -> None:
    settings = make_settings(CONFIG, dingtalk=stream_settings(api, gateway), workers=WORKERS)
    first = await aiohttp_client(create_app(settings))
    second = await aiohttp_client(create_app(settings))
    await eventually(lambda: len(gateway.conns) == 2, timeout=10)
    push = await gateway.push_robot(
        robot_message("kehu40", "报修 A-1024 注塑机漏油"), to=min(gateway.conns), lose_ack=True
    )
    await eventually(lambda: done(push), timeout=15)
    assert len(set(push.conns)) == 2  # each instance received it once
    await eventually(lambda: texts_to(api, "kehu40"))
    await asyncio.sleep(0.5)
    async with first.app[SERVICES].engine.connect() as conn:
        tickets = (await conn.execute(text("SELECT count(*) FROM tickets"))).scalar()
    assert tickets == 1
    assert await inbox_count(second.app, "dingtalk") == 1
    if PG_URL:  # several instances need PostgreSQL: SQLite's queue claims are one-process only
        async with first.app[SERVICES].engine.connect() as conn:
            replies = (
                await conn.execute(text("SELECT count(*) FROM outbox WHERE kind = 'text'"))
            ).scalar()
        assert replies == 1, await _outbox_dump(first)  # one reply queued ...
        assert len(texts_to(api, "kehu40")) == 1  # ... and sent once


async def test_events_are_stored_once_and_answered_success(rig: Rig) -> None:
    data = {"timeStamp": "1700000000000", "userId": ["u1"]}
    one = await rig.gateway.push_event("user_add_org", data, event_id="ev-s1")
    again = await rig.gateway.push_event("user_add_org", data, event_id="ev-s1")
    await eventually(lambda: done(one, again))
    for push in (one, again):
        assert json.loads(push.acks[-1]["data"])["status"] == "SUCCESS"
    assert await inbox_count(rig.client.app, "dingtalk") == 1
    assert rig.gateway.ack_problems == []


async def test_malformed_frames_are_refused_and_store_nothing(rig: Rig) -> None:
    bad = await rig.gateway.push_robot({"msgtype": "text", "text": {"content": "无 msgId"}})
    await eventually(lambda: bad.acks)
    assert bad.acks[0]["code"] == 400
    await rig.gateway.push_raw(
        {"specVersion": "1.0", "type": "CALLBACK", "headers": {"topic": "/v1.0/im/bot/messages/get",
         "messageId": "m-bad-json", "contentType": "application/json"}, "data": "{not json"}
    )  # fmt: skip
    await eventually(
        lambda: [
            a for a in rig.gateway.acks if a["ack"]["headers"].get("messageId") == "m-bad-json"
        ]
    )
    huge = await rig.gateway.push_robot(robot_message("kehu70", "漏油" * 40_000))
    await eventually(lambda: huge.acks)
    assert huge.acks[0]["code"] == 400  # larger than dingtalk.max_body_bytes: refused, not lost
    await rig.gateway.push_raw({"no": "type"})
    await rig.gateway.ping(min(rig.gateway.conns), "opaque-1")
    pong = await eventually(lambda: rig.gateway.pongs)
    assert json.loads(pong[0]["data"]) == {"opaque": "opaque-1"}
    assert await inbox_count(rig.client.app) == 0
    assert rig.gateway.conns  # still connected


async def test_readyz_reports_the_connection_and_its_grace(rig: Rig) -> None:
    r = await rig.client.get("/readyz")
    assert r.status == 200 and (await r.json())["dingtalk_stream"] == "ok"
    rig.gateway.refuse_opens = 10_000  # the gateway stops handing out tickets
    await rig.gateway.drop()
    r = await eventually(lambda: _not_ready(rig.client), timeout=10)  # past the 1 s grace
    assert r["dingtalk_stream"] == "disconnected"
    rig.gateway.refuse_opens = 0
    await eventually(lambda: rig.gateway.conns, timeout=10)
    r = await rig.client.get("/readyz")
    assert r.status == 200


async def _not_ready(client: TestClient) -> dict[str, Any] | None:
    r = await client.get("/readyz")
    return await r.json() if r.status == 503 else None


async def test_wrong_credentials_keep_retrying_and_never_connect(
    aiohttp_client, make_settings, api: FakeDingtalk, gateway: FakeStreamGateway
) -> None:
    cfg = stream_settings(api, gateway, app_secret="wrong-secret")
    client = await aiohttp_client(create_app(make_settings(CONFIG, dingtalk=cfg, workers=WORKERS)))
    await eventually(lambda: len(gateway.opens) >= 3, timeout=10)
    assert gateway.connections_made == 0
    await eventually(lambda: _not_ready(client), timeout=10)


async def test_a_template_card_asks_for_stream_clicks_and_its_click_is_accepted(
    aiohttp_client, make_settings, api: FakeDingtalk, gateway: FakeStreamGateway
) -> None:
    cfg = stream_settings(api, gateway, card_template_id="chatdesk-tpl.schema")
    client = await aiohttp_client(create_app(make_settings(CONFIG, dingtalk=cfg, workers=WORKERS)))
    await eventually(lambda: gateway.conns, timeout=10)
    await gateway.push_robot(robot_message("kehu50", "报修 A-1024 注塑机漏油"))
    ((track_id, card),) = (await eventually(lambda: api.cards)).items()
    assert card["request"]["callbackType"] == "STREAM"
    assert "callbackRouteKey" not in card["request"]
    buttons = json.loads(card["private"].get(ENGINEER, card["public"])["buttons"])
    accept = next(b["action"] for b in buttons if b["text"] == "接单")
    click = card_click(ENGINEER, track_id, "")
    click["content"] = json.dumps(
        {"cardPrivateData": {"actionIds": ["btn"], "params": {"action": accept}}}
    )
    push = await gateway.push_card(click)
    await eventually(lambda: done(push))
    assert json.loads(push.acks[-1]["data"]) == {"response": {}}
    await eventually(lambda: api.cards[track_id]["updates"] >= 1)
    assert (await ticket_history(client.app, 1)).count("status_changed:accepted") == 1


async def test_a_disconnect_frame_finishes_in_flight_work_and_reconnects_at_once(
    rig: Rig,
) -> None:
    conn = min(rig.gateway.conns)
    push = await rig.gateway.push_robot(robot_message("kehu60", "帮助"))
    await rig.gateway.disconnect(conn)
    await eventually(lambda: rig.gateway.connections_made == 2, timeout=10)
    assert push.done and push.conns == [conn]  # acknowledged before the socket closed
    assert all(a["ack"]["headers"].get("messageId") for a in rig.gateway.acks)  # none for it
    after = await rig.gateway.push_robot(robot_message("kehu61", "帮助"))
    await eventually(lambda: done(after))
    assert await metric(rig.client, 'chatdesk_dingtalk_stream_frames_total{outcome="failed"') == 0
    assert rig.gateway.ack_problems == []


async def _outbox_dump(client: TestClient) -> str:
    async with client.app[SERVICES].engine.connect() as conn:
        rows = await conn.execute(text("SELECT dedupe_key, kind, payload, status FROM outbox"))
        inbox = await conn.execute(text("SELECT id, status, attempts FROM inbox"))
        return repr([tuple(r) for r in rows]) + repr([tuple(r) for r in inbox])
