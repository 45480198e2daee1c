"""One chat harness for both platforms: people type and click; tests read what they received.

``Chat`` hides the platform: ``say(user, text)`` sends a really encrypted WeCom callback or a
really signed DingTalk robot callback into the app; ``click(user, card, "接单")`` presses a
button; ``texts(user)`` and ``cards(user)`` read what the fake platform server received.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp.test_utils import TestClient

from tests.fakes.dingtalk_api import FakeDingtalk, start_fake_dingtalk
from tests.fakes.wecom_api import AGENT_ID, SECRET, FakeWecom, start_fake_wecom
from tests.fakes.wecom_support import callback, params, text_xml, xml_head
from webhooks.app import create_app

DING_APP_KEY, DING_APP_SECRET, DING_CARD_SECRET = (
    "dingfakeappkey",
    "fake-app-secret-xyz",
    "card-api-secret",
)
_seq = itertools.count(1)


@dataclass
class SeenCard:
    key: str
    title: str
    buttons: dict[str, str]  # text -> action payload
    status_text: str  # everything the card shows, for "who did what" assertions
    raw: Any = None


def wecom_settings(base_url: str) -> dict[str, Any]:
    p = params()
    return {
        "corp_id": p["corpid"], "agent_id": AGENT_ID, "secret": SECRET, "token": p["token"],
        "encoding_aes_key": p["encoding_aes_key"], "api_base": base_url, "request_timeout_s": 2.0,
    }  # fmt: skip


def dingtalk_settings(base_url: str) -> dict[str, Any]:
    return {
        "app_key": DING_APP_KEY, "app_secret": DING_APP_SECRET, "card_callback_secret": DING_CARD_SECRET,
        "api_base": base_url, "oapi_base": base_url, "request_timeout_s": 2.0,
    }  # fmt: skip


@dataclass
class WecomChat:
    client: TestClient
    fake: FakeWecom
    platform: str = "wecom"

    async def _post(self, xml: str) -> int:
        query, body = callback(xml, f"n{next(_seq)}")
        r = await self.client.post("/webhooks/wecom", params=query, data=body)
        return r.status

    def _head(self, user: str) -> str:
        return xml_head(user)

    async def say(self, user: str, text: str) -> int:
        return await self._post(text_xml(user, text, 900000 + next(_seq)))

    async def photo(self, user: str, media_id: str) -> int:
        return await self._post(
            self._head(user)
            + "<MsgType><![CDATA[image]]></MsgType><PicUrl><![CDATA[http://img]]></PicUrl>"
            f"<MediaId><![CDATA[{media_id}]]></MediaId><MsgId>{900000 + next(_seq)}</MsgId>"
            f"<AgentID>{AGENT_ID}</AgentID></xml>"
        )

    async def click(self, user: str, card: SeenCard, button: str) -> int:
        code = self.fake.issue_response_code(card.key)
        return await self._post(
            self._head(user)
            + "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[template_card_event]]></Event>"
            f"<EventKey><![CDATA[{card.buttons[button]}]]></EventKey><TaskId><![CDATA[{card.key}]]></TaskId>"
            "<CardType><![CDATA[button_interaction]]></CardType>"
            f"<ResponseCode><![CDATA[{code}]]></ResponseCode><AgentID>{AGENT_ID}</AgentID></xml>"
        )

    def texts(self, user: str) -> list[str]:
        out = []
        for c in self.fake.sent:
            if c.get("touser") == user and c.get("msgtype") == "text":
                out.append(c["text"]["content"])
            elif c.get("touser") == user and c.get("msgtype") == "markdown":
                out.append(c["markdown"]["content"])
        return out

    def cards(self, user: str) -> list[SeenCard]:
        seen: dict[str, SeenCard] = {}
        for c in self.fake.sent:
            if c.get("touser") != user or c.get("msgtype") != "template_card":
                continue
            tc = c["template_card"]
            key = tc["task_id"].split("@r")[0]
            buttons = {b["text"]: b["key"] for b in tc.get("button_list", [])}
            seen[key] = SeenCard(key=tc["task_id"], title=json.dumps(tc.get("main_title", {}), ensure_ascii=False),
                                 buttons=buttons, status_text=json.dumps(tc, ensure_ascii=False), raw=tc)  # fmt: skip
        for u in self.fake.updates:
            if user not in u.get("userids", []):
                continue
            for key, card in seen.items():
                if (
                    card.key == u.get("template_card", {}).get("task_id")
                    or _code_for(self.fake, u) == card.key
                ):
                    seen[key] = SeenCard(card.key, card.title, card.buttons,
                                         card.status_text + json.dumps(u, ensure_ascii=False), card.raw)  # fmt: skip
        return list(seen.values())


def _code_for(fake: FakeWecom, update: dict[str, Any]) -> str:
    return fake._codes.get(update.get("response_code", ""), "")


def robot_callback(user: str, body: dict[str, Any], msg_id: str) -> tuple[dict[str, str], bytes]:
    """The headers and body DingTalk posts for a robot message now (a retry keeps ``msg_id``)."""
    ts = str(int(time.time() * 1000))
    sign = base64.b64encode(
        hmac.new(
            DING_APP_SECRET.encode(), f"{ts}\n{DING_APP_SECRET}".encode(), hashlib.sha256
        ).digest()
    ).decode()
    payload = {
        "msgId": msg_id, "createAt": int(ts), "conversationType": "1",
        "conversationId": f"cid{user}", "senderId": f"$:LWCP_v1:${user}", "senderNick": user,
        "senderStaffId": user, "chatbotUserId": "$:LWCP_v1:$robot", "robotCode": DING_APP_KEY, **body,
    }  # fmt: skip
    headers = {"timestamp": ts, "sign": sign, "Content-Type": "application/json"}
    return headers, json.dumps(payload).encode()


@dataclass
class DingtalkChat:
    client: TestClient
    fake: FakeDingtalk
    platform: str = "dingtalk"
    _headers: dict[str, str] = field(default_factory=dict)

    async def _robot(self, user: str, body: dict[str, Any]) -> int:
        headers, data = robot_callback(user, body, f"msg{next(_seq)}")
        r = await self.client.post("/webhooks/dingtalk/robot", data=data, headers=headers)
        return r.status

    async def say(self, user: str, text: str) -> int:
        return await self._robot(user, {"msgtype": "text", "text": {"content": text}})

    async def photo(self, user: str, media_id: str) -> int:
        return await self._robot(
            user, {"msgtype": "picture", "content": {"downloadCode": media_id}}
        )

    async def click(self, user: str, card: SeenCard, button: str) -> int:
        ts = str(int(time.time() * 1000))
        sig = base64.b64encode(
            hmac.new(DING_CARD_SECRET.encode(), ts.encode(), hashlib.sha256).digest()
        ).decode()
        body = {
            "type": "actionCallback", "outTrackId": card.key, "userId": user,
            "content": json.dumps({"cardPrivateData": {"actionIds": [card.buttons[button]], "params": {}}}),
        }  # fmt: skip
        headers = {
            "x-ddpaas-signature-timestamp": ts,
            "x-ddpaas-signature": sig,
            "Content-Type": "application/json",
        }
        r = await self.client.post(
            "/webhooks/dingtalk/card", data=json.dumps(body), headers=headers
        )
        return r.status

    def texts(self, user: str) -> list[str]:
        out = []
        for m in self.fake.messages:
            if m["kind"] == "oto" and user in m["userIds"]:
                param = json.loads(m["msgParam"])
                out.append(
                    param.get("content")
                    or param.get("text")
                    or json.dumps(param, ensure_ascii=False)
                )
        return out

    def cards(self, user: str) -> list[SeenCard]:
        out = []
        for key, state in self.fake.robot_cards.items():
            request = state["request"]
            receiver = json.loads(request.get("singleChatReceiver") or "{}").get("userId")
            if receiver != user and user not in state["private"]:
                continue
            blocks = list(state["data"].get("contents", []))
            for private in state["private"].values():
                if isinstance(private, dict):
                    blocks.extend(private.get("contents", []))
            buttons = {
                a["label"]["text"]: a["id"]
                for b in blocks for a in b.get("actions", []) if a.get("actionType") == "request"
            }  # fmt: skip
            title = state["data"].get("header", {}).get("title", {}).get("text", "")
            text = json.dumps(state["data"], ensure_ascii=False) + json.dumps(
                state["private"], ensure_ascii=False
            )
            out.append(SeenCard(key=key, title=title, buttons=buttons, status_text=text, raw=state))
        return out


@asynccontextmanager
async def open_chat(
    platform: str,
    aiohttp_client: Any,
    make_settings: Any,
    config_yaml: str,
    clock: Any = None,
    **overrides: Any,
) -> AsyncIterator[WecomChat | DingtalkChat]:
    """The real app wired to one fake platform, with fast workers; yields the Chat."""
    workers = {
        "inbox_poll_s": 0.05,
        "outbox_poll_s": 0.05,
        "retry_base_s": 0.1,
        "scan_interval_s": 3600,
    }
    workers.update(overrides.pop("workers", {}))
    if platform == "wecom":
        async with start_fake_wecom() as fake:
            settings = make_settings(
                config_yaml, wecom=wecom_settings(fake.base_url), workers=workers, **overrides
            )
            client = await aiohttp_client(create_app(settings, clock=clock))
            yield WecomChat(client, fake)
        return
    ding = await start_fake_dingtalk(app_key=DING_APP_KEY, app_secret=DING_APP_SECRET)
    try:
        settings = make_settings(
            config_yaml, dingtalk=dingtalk_settings(ding.base_url), workers=workers, **overrides
        )
        client = await aiohttp_client(create_app(settings, clock=clock))
        yield DingtalkChat(client, ding)
    finally:
        await ding.close()


def people_yaml(people: list[tuple[str, str, str]], platform: str) -> str:
    """``[(id, name, roles)]`` → a people: section with each person's id as their user id."""
    key = "wecom_userid" if platform == "wecom" else "dingtalk_userid"
    lines = ["people:"]
    for pid, name, roles in people:
        lines.append(f'  - {{id: {pid}, name: {name}, roles: [{roles}], {key}: "{pid}"}}')
    return "\n".join(lines) + "\n"
