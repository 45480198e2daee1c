"""The DingTalk OpenAPI as the sandbox plays it (reference/dingtalk.md §4-§6), in-process.

chatdesk's real DingTalk adapter calls these routes over loopback HTTP as it would call
api.dingtalk.com: ``/v1.0/oauth2/accessToken``, robot one-to-one messages, the robot's
StandardCard send and update, and the message-file download. What is sent lands in the hub.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from aiohttp import web

from webhooks.sandbox.hub import Hub

TOKEN = "/v1.0/oauth2/accessToken"
OTO = "/v1.0/robot/oToMessages/batchSend"
CARD_SEND = "/v1.0/im/v1.0/robot/interactiveCards/send"
CARD_UPDATE = "/v1.0/im/robots/interactiveCards"
DOWNLOAD = "/v1.0/robot/messageFiles/download"


def _error(status: int, code: str, message: str = "") -> web.Response:
    body = {"code": code, "message": message or code, "requestid": secrets.token_hex(8)}
    return web.json_response(body, status=status)


def _loads(value: Any) -> Any:
    if not isinstance(value, str):
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


class FakeDingtalkApi:
    def __init__(self, hub: Hub, *, app_key: str, app_secret: str, files_url: str) -> None:
        self.hub = hub
        self.app_key = app_key
        self.app_secret = app_secret
        self.files_url = files_url  # where downloadUrl points (…/files/<code>)
        self._token = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        if request.method == "GET" and path.startswith("/files/"):
            return self._file(path.removeprefix("/files/"))
        try:
            body = json.loads(await request.read() or b"null")
        except ValueError:
            return _error(400, "InvalidParameter", "body is not JSON")
        if path == TOKEN:
            return self._token_answer(body)
        token = request.headers.get("x-acs-dingtalk-access-token", "")
        if not self._token or token != self._token:
            return _error(401, "InvalidAuthentication", "不合法的access_token")
        if not isinstance(body, dict):
            return _error(400, "InvalidParameter", "body must be an object")
        if body.get("robotCode", self.app_key) != self.app_key:
            return _error(400, "robot.notExist", "robotCode not found")
        if path == OTO and request.method == "POST":
            return self._oto(body)
        if path == CARD_SEND and request.method == "POST":
            return self._card_send(body)
        if path == CARD_UPDATE and request.method == "PUT":
            return self._card_update(body)
        if path == DOWNLOAD and request.method == "POST":
            code = str(body.get("downloadCode", ""))
            if code not in self.hub.media:
                return _error(400, "InvalidParameter.downloadCode", "downloadCode not found")
            return web.json_response({"downloadUrl": f"{self.files_url}/{code}"})
        return _error(404, "NotFound", f"{path} is not part of the sandbox")

    def _token_answer(self, body: Any) -> web.Response:
        if not isinstance(body, dict) or body.get("appKey") != self.app_key:
            return _error(400, "invalidClientId", "appKey not found")
        if body.get("appSecret") != self.app_secret:
            return _error(400, "invalidClientSecret", "appSecret mismatch")
        if not self._token:
            self._token = secrets.token_hex(16)
        return web.json_response({"accessToken": self._token, "expireIn": 7200})

    def _oto(self, body: dict[str, Any]) -> web.Response:
        users = body.get("userIds")
        param = _loads(body.get("msgParam"))
        key = body.get("msgKey")
        if not isinstance(users, list) or not users or not isinstance(param, dict):
            return _error(400, "InvalidParameter", "userIds and msgParam are required")
        if key == "sampleText":
            kind, text = "text", str(param.get("content", ""))
        elif key == "sampleMarkdown":
            kind, text = "markdown", f"**{param.get('title', '')}**\n\n{param.get('text', '')}"
        else:
            return _error(400, "InvalidParameter.msgKey", f"msgKey {key} not in the sandbox")
        for user in users:
            self.hub.add("dingtalk", str(user), "bot", kind, text=text)
        return web.json_response({"processQueryKey": secrets.token_hex(8)})

    def _card_send(self, body: dict[str, Any]) -> web.Response:
        key = body.get("cardBizId")
        data = _loads(body.get("cardData"))
        receiver = _loads(body.get("singleChatReceiver")) or {}
        user = receiver.get("userId") if isinstance(receiver, dict) else None
        if not isinstance(key, str) or not key or not isinstance(data, dict) or not user:
            return _error(400, "InvalidParameter", "cardBizId, cardData and a receiver needed")
        if self.hub.card("dingtalk", key) is not None:
            return _error(400, "param.cardAlreadyExist", "card already exists")
        self.hub.add("dingtalk", str(user), "bot", "card", card=data, card_key=key)
        return web.json_response({"processQueryKey": secrets.token_hex(8)})

    def _card_update(self, body: dict[str, Any]) -> web.Response:
        key = body.get("cardBizId")
        data = _loads(body.get("cardData"))
        entry = self.hub.card("dingtalk", key) if isinstance(key, str) else None
        if entry is None or not isinstance(data, dict):
            return _error(400, "param.cardNotExist", "card not found")
        private = _loads(body.get("userIdPrivateDataMap"))
        if isinstance(private, dict) and isinstance(private.get(entry.user_id), dict):
            data = private[entry.user_id]  # what this person sees
        self.hub.update_card(entry, card=data)
        return web.json_response({"success": True, "result": True})

    def _file(self, code: str) -> web.StreamResponse:
        found = self.hub.media.get(code)
        if found is None:
            return web.Response(status=404, text="no such file")
        return web.Response(body=found[0], content_type=found[1])
