"""The WeCom server API as the sandbox plays it (reference/wecom.md §5), mounted in-process.

chatdesk's real WeCom adapter calls these routes over loopback HTTP exactly as it would call
qyapi.weixin.qq.com: a token from ``gettoken``, then ``message/send``,
``message/update_template_card`` and ``media/get``. What is sent lands in the :class:`Hub`.
"""

from __future__ import annotations

import itertools
import json
import secrets
from typing import Any

from aiohttp import web

from webhooks.sandbox.hub import Hub

INVALID_PARAM = 40058


class FakeWecomApi:
    def __init__(self, hub: Hub, *, corp_id: str, secret: str, agent_id: int) -> None:
        self.hub = hub
        self.corp_id = corp_id
        self.secret = secret
        self.agent_id = agent_id
        self._token = ""
        self._seq = itertools.count(1)
        self._codes: dict[str, str] = {}  # response_code -> task_id
        self._used: set[str] = set()

    def issue_response_code(self, task_id: str) -> str:
        """The single-use code a click on the card carries (and a sent card answers)."""
        code = f"rc{next(self._seq)}{secrets.token_hex(4)}"
        self._codes[code] = task_id
        return code

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        query = dict(request.query)
        if path == "gettoken":
            return web.json_response(self._gettoken(query))
        if query.get("access_token") != self._token or not self._token:
            return web.json_response({"errcode": 40014, "errmsg": "invalid access_token"})
        if path == "media/get":
            return self._media(query.get("media_id", ""))
        try:
            body = json.loads(await request.read())
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return web.json_response({"errcode": 47001, "errmsg": "data format error"})
        if body.get("agentid") != self.agent_id:
            return web.json_response({"errcode": 40056, "errmsg": "invalid agentid"})
        if path == "message/send":
            return web.json_response(self._send(body))
        if path == "message/update_template_card":
            return web.json_response(self._update(body))
        return web.json_response({"errcode": 404, "errmsg": "api not in the sandbox"})

    def _gettoken(self, q: dict[str, str]) -> dict[str, Any]:
        if q.get("corpid") != self.corp_id:
            return {"errcode": 40013, "errmsg": "invalid corpid"}
        if q.get("corpsecret") != self.secret:
            return {"errcode": 40001, "errmsg": "invalid credential"}
        if not self._token:
            self._token = secrets.token_urlsafe(24)
        return {"errcode": 0, "errmsg": "ok", "access_token": self._token, "expires_in": 7200}

    def _send(self, body: dict[str, Any]) -> dict[str, Any]:
        users = [u for u in str(body.get("touser", "")).split("|") if u]
        msgtype = body.get("msgtype")
        payload = body.get(msgtype) if isinstance(msgtype, str) else None
        if not users:
            return {"errcode": INVALID_PARAM, "errmsg": "no recipient"}
        if msgtype not in ("text", "markdown", "template_card") or not isinstance(payload, dict):
            return {"errcode": 40008, "errmsg": "invalid message type"}
        answer: dict[str, Any] = {"errcode": 0, "errmsg": "ok", "invaliduser": ""}
        if msgtype == "template_card":
            task_id = str(payload.get("task_id", ""))
            if not task_id or self._task_known(task_id):
                return {"errcode": INVALID_PARAM, "errmsg": "task_id missing or already used"}
            for user in users:
                self.hub.add("wecom", user, "bot", "card", card=payload, card_key=task_id)
            answer["response_code"] = self.issue_response_code(task_id)
        else:
            content = payload.get("content")
            if not isinstance(content, str) or not content:
                return {"errcode": 44004, "errmsg": "empty content"}
            for user in users:
                self.hub.add("wecom", user, "bot", msgtype, text=content)
        answer["msgid"] = f"msg{next(self._seq)}"
        return answer

    def _task_known(self, task_id: str) -> bool:
        return any(e.card_key == task_id for e in self.hub.entries if e.platform == "wecom")

    def _update(self, body: dict[str, Any]) -> dict[str, Any]:
        code = body.get("response_code")
        if not isinstance(code, str) or code not in self._codes or code in self._used:
            return {"errcode": INVALID_PARAM, "errmsg": "invalid or used response_code"}
        userids = body.get("userids")
        if not isinstance(userids, list) or not userids:
            return {"errcode": INVALID_PARAM, "errmsg": "no userids"}
        task_id = self._codes[code]
        entry = self.hub.card("wecom", task_id)
        if entry is None:
            return {"errcode": INVALID_PARAM, "errmsg": "unknown task"}
        if isinstance(body.get("template_card"), dict):
            self.hub.update_card(entry, card=body["template_card"], finished_label="")
        elif isinstance(body.get("button"), dict) and body["button"].get("replace_name"):
            self.hub.update_card(entry, finished_label=str(body["button"]["replace_name"]))
        else:
            return {"errcode": INVALID_PARAM, "errmsg": "nothing to update"}
        self._used.add(code)
        return {"errcode": 0, "errmsg": "ok", "invaliduser": []}

    def _media(self, media_id: str) -> web.StreamResponse:
        found = self.hub.media.get(media_id)
        if found is None:
            return web.json_response({"errcode": 40007, "errmsg": "invalid media_id"})
        data, ctype = found
        headers = {"Content-Disposition": f'attachment; filename="{media_id}"'}
        return web.Response(body=data, content_type=ctype, headers=headers)
