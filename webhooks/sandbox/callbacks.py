"""What a platform would POST to chatdesk, built and signed the way the platform does it.

The sandbox never calls the core: each message, photo and click becomes a real callback to
``/webhooks/wecom`` (AES-encrypted XML with ``msg_signature``) or ``/webhooks/dingtalk/robot``
and ``/webhooks/dingtalk/card`` (HMAC-signed JSON), sent over loopback HTTP to this process.
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import time
from typing import Any

import aiohttp

from bot.dingtalk.crypto import card_signature, robot_sign
from bot.dingtalk.settings import DingtalkSettings
from bot.tencent_crypto import TencentCrypto
from bot.wecom.settings import WecomSettings

_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
_seq = itertools.count(int(time.time()) % 1_000_000 * 1000)


def cdata(value: str) -> str:
    """A CDATA section holding ``value`` exactly (``]]>`` split, control characters dropped)."""
    clean = _XML_UNSAFE.sub("", value)
    return "<![CDATA[" + clean.replace("]]>", "]]]]><![CDATA[>") + "]]>"


class CallbackSender:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        wecom: WecomSettings,
        dingtalk: DingtalkSettings,
    ) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self.wecom = wecom
        self.dingtalk = dingtalk
        self._crypto = TencentCrypto(
            wecom.token.get_secret_value(),
            wecom.encoding_aes_key.get_secret_value(),
            wecom.corp_id,
        )

    async def _post(
        self, path: str, data: bytes, *, params: dict[str, str], headers: dict[str, str]
    ) -> int:
        async with self._session.post(
            self._base + path, data=data, params=params, headers=headers
        ) as resp:
            await resp.read()
            return resp.status

    # --- WeCom ----------------------------------------------------------------------------

    async def _wecom(self, user: str, inner: str) -> int:
        xml = (
            f"<xml><ToUserName>{cdata(self.wecom.corp_id)}</ToUserName>"
            f"<FromUserName>{cdata(user)}</FromUserName><CreateTime>{int(time.time())}</CreateTime>"
            f"{inner}<AgentID>{self.wecom.agent_id}</AgentID></xml>"
        )
        encrypted = self._crypto.encrypt(xml)
        ts, nonce = str(int(time.time())), secrets.token_hex(8)
        envelope = (
            f"<xml><ToUserName>{cdata(self.wecom.corp_id)}</ToUserName>"
            f"<AgentID>{cdata(str(self.wecom.agent_id))}</AgentID>"
            f"<Encrypt>{cdata(encrypted)}</Encrypt></xml>"
        )
        params = {
            "msg_signature": self._crypto.signature(ts, nonce, encrypted),
            "timestamp": ts,
            "nonce": nonce,
        }
        headers = {"Content-Type": "text/xml; charset=utf-8"}
        return await self._post(
            "/webhooks/wecom", envelope.encode(), params=params, headers=headers
        )

    async def wecom_text(self, user: str, text: str) -> int:
        return await self._wecom(
            user,
            f"<MsgType>{cdata('text')}</MsgType><Content>{cdata(text)}</Content>"
            f"<MsgId>{next(_seq)}</MsgId>",
        )

    async def wecom_image(self, user: str, media_id: str, pic_url: str) -> int:
        return await self._wecom(
            user,
            f"<MsgType>{cdata('image')}</MsgType><PicUrl>{cdata(pic_url)}</PicUrl>"
            f"<MediaId>{cdata(media_id)}</MediaId><MsgId>{next(_seq)}</MsgId>",
        )

    async def wecom_click(self, user: str, task_id: str, key: str, response_code: str) -> int:
        return await self._wecom(
            user,
            f"<MsgType>{cdata('event')}</MsgType><Event>{cdata('template_card_event')}</Event>"
            f"<EventKey>{cdata(key)}</EventKey><TaskId>{cdata(task_id)}</TaskId>"
            f"<CardType>{cdata('button_interaction')}</CardType>"
            f"<ResponseCode>{cdata(response_code)}</ResponseCode>",
        )

    # --- DingTalk -------------------------------------------------------------------------

    async def _robot(self, user: str, name: str, body: dict[str, Any]) -> int:
        ts = str(int(time.time() * 1000))
        payload = {
            "msgId": f"msg{next(_seq)}{secrets.token_hex(4)}",
            "createAt": int(ts),
            "conversationType": "1",
            "conversationId": f"cid{secrets.token_hex(6)}",
            "senderId": f"$:LWCP_v1:${user}",
            "senderNick": name,
            "senderStaffId": user,
            "chatbotUserId": "$:LWCP_v1:$sandboxrobot",
            "robotCode": self.dingtalk.effective_robot_code,
            **body,
        }
        headers = {
            "timestamp": ts,
            "sign": robot_sign(ts, self.dingtalk.app_secret.get_secret_value()),
            "Content-Type": "application/json",
        }
        data = json.dumps(payload, ensure_ascii=False).encode()
        return await self._post("/webhooks/dingtalk/robot", data, params={}, headers=headers)

    async def dingtalk_text(self, user: str, name: str, text: str) -> int:
        return await self._robot(user, name, {"msgtype": "text", "text": {"content": text}})

    async def dingtalk_image(self, user: str, name: str, code: str) -> int:
        return await self._robot(
            user, name, {"msgtype": "picture", "content": {"downloadCode": code}}
        )

    async def dingtalk_click(self, user: str, card_key: str, action_id: str) -> int:
        ts = str(int(time.time() * 1000))
        secret = self.dingtalk.card_callback_secret.get_secret_value()
        body = {
            "type": "actionCallback",
            "outTrackId": card_key,
            "userId": user,
            "corpId": "dingsandboxcorp",
            "content": json.dumps(
                {"cardPrivateData": {"actionIds": [action_id], "params": {}}}, ensure_ascii=False
            ),
        }
        headers = {
            "x-ddpaas-signature-timestamp": ts,
            "x-ddpaas-signature": card_signature(ts, secret),
            "Content-Type": "application/json",
        }
        data = json.dumps(body, ensure_ascii=False).encode()
        return await self._post("/webhooks/dingtalk/card", data, params={}, headers=headers)
