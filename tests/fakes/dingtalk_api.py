"""A fake DingTalk OpenAPI server on 127.0.0.1 (reference/dingtalk.md §4-§8).

Written from the spec, not from our renderer: it checks tokens and required fields the way the
real service does and answers in DingTalk's shapes. Script failures with ``fail_with``,
``http_500``, ``timeout``, ``html_error`` and ``expire_token_once``; read ``calls``.

    fake = await start_fake_dingtalk(app_key="k", app_secret="s")
    settings = DingtalkSettings(..., api_base=fake.base_url, oapi_base=fake.base_url)
    ...
    await fake.close()
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.dingtalk_cards import BODY, CardEndpoints, Refused

TOKEN_PATH = "/v1.0/oauth2/accessToken"
_MSG_KEYS = {
    "sampleText",
    "sampleMarkdown",
    "sampleImageMsg",
    "sampleLink",
    "sampleActionCard",
    "sampleActionCard2",
    "sampleActionCard3",
    "sampleActionCard4",
    "sampleActionCard5",
    "sampleActionCard6",
    "sampleAudio",
    "sampleFile",
    "sampleVideo",
}


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    json: Any
    query: dict[str, str]


@dataclass
class _Failure:
    kind: str  # "code" | "500" | "timeout" | "html"
    times: int | None
    until: float | None
    path: str | None
    code: str = ""
    status: int = 400
    message: str = ""


@dataclass
class FakeDingtalk(CardEndpoints):
    app_key: str = "dingfakeappkey"
    app_secret: str = "fake-app-secret"
    robot_code: str = ""
    token_ttl: int = 7200
    known_users: set[str] | None = None  # None: every user id exists
    known_conversations: set[str] | None = None
    timeout_delay: float = 2.0
    base_url: str = ""
    calls: list[Call] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)  # every token issued, oldest first
    valid_tokens: set[str] = field(default_factory=set)
    messages: list[dict[str, Any]] = field(default_factory=list)
    cards: dict[str, dict[str, Any]] = field(default_factory=dict)  # outTrackId -> state
    robot_cards: dict[str, dict[str, Any]] = field(default_factory=dict)  # cardBizId -> state
    callbacks: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)  # downloadCode -> content
    _failures: list[_Failure] = field(default_factory=list)
    _expire_next: bool = False
    _runner: web.AppRunner | None = None

    # --- scripting ----------------------------------------------------------------------------

    def expire_token_once(self) -> None:
        """Revoke every issued token; the next authenticated call gets HTTP 400
        ``InvalidAuthentication`` (the form the spec observed)."""
        self.valid_tokens.clear()

    def fail_with(
        self,
        code: str,
        *,
        status: int = 403,
        message: str = "",
        times: int | None = 1,
        for_seconds: float | None = None,
        path: str | None = None,
    ) -> None:
        """Answer ``{"code": code, ...}`` with ``status`` on API calls (not the token call
        unless ``path`` names it), ``times`` times or for ``for_seconds``."""
        until = time.monotonic() + for_seconds if for_seconds is not None else None
        self._failures.append(
            _Failure("code", None if until else times, until, path, code, status, message)
        )

    def http_500(self, times: int = 1, *, path: str | None = None) -> None:
        self._failures.append(_Failure("500", times, None, path))

    def timeout(self, times: int = 1, *, path: str | None = None) -> None:
        """Hold the answer for ``timeout_delay`` seconds (longer than the client waits)."""
        self._failures.append(_Failure("timeout", times, None, path))

    def html_error(self, times: int = 1, *, path: str | None = None) -> None:
        self._failures.append(_Failure("html", times, None, path))

    def calls_to(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.path == path]

    # --- plumbing -----------------------------------------------------------------------------

    def _take_failure(self, path: str) -> _Failure | None:
        now = time.monotonic()
        for f in list(self._failures):
            if f.until is not None and f.until <= now:
                self._failures.remove(f)
                continue
            if (f.path is None and path == TOKEN_PATH) or f.path not in (None, path):
                continue
            if f.times is not None:
                f.times -= 1
                if f.times <= 0:
                    self._failures.remove(f)
            return f
        return None

    @staticmethod
    def _error(status: int, code: str, message: str = "") -> web.Response:
        body = {"code": code, "message": message or code, "requestid": uuid.uuid4().hex}
        return web.json_response(body, status=status)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = "<not json>"
        self.calls.append(
            Call(request.method, request.path, dict(request.headers), body, dict(request.query))
        )
        failure = self._take_failure(request.path)
        if failure is not None:
            if failure.kind == "timeout":
                await asyncio.sleep(self.timeout_delay)
                return web.json_response({"late": True})
            if failure.kind == "500":
                return self._error(500, "InternalError", "internal error")
            if failure.kind == "html":
                html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
                return web.Response(status=502, text=html, content_type="text/html")
            return self._error(failure.status, failure.code, failure.message)
        request[BODY] = body
        try:
            return await handler(request)
        except Refused as exc:
            return self._error(exc.status, exc.code, exc.message)

    def _auth(self, request: web.Request) -> None:
        token = request.headers.get("x-acs-dingtalk-access-token")
        if not token:
            raise Refused(400, "MissingParameter", "x-acs-dingtalk-access-token is blank")
        if token not in self.valid_tokens:
            raise Refused(400, "InvalidAuthentication", "不合法的access_token")

    async def _token(self, request: web.Request) -> web.Response:
        body = self._obj(request)
        if body.get("appKey") != self.app_key or body.get("appSecret") != self.app_secret:
            raise Refused(400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
        token = uuid.uuid4().hex
        self.tokens.append(token)
        self.valid_tokens.add(token)
        return web.json_response({"accessToken": token, "expireIn": self.token_ttl})

    async def _oto(self, request: web.Request) -> web.Response:
        self._auth(request)
        body = self._obj(request)
        self._check_robot(body)
        users = body.get("userIds")
        if not isinstance(users, list) or not users or len(users) > 20:
            raise Refused(400, "invalidParameter.userIds", "userIds must hold 1..20 ids")
        if body.get("msgKey") not in _MSG_KEYS:
            raise Refused(400, "invalidParameter.msgKey", "unknown msgKey")
        self._json_str(body.get("msgParam"), "msgParam")
        known = self.known_users
        invalid = [u for u in users if known is not None and u not in known]
        key = uuid.uuid4().hex
        if len(invalid) < len(users):
            self.messages.append({"kind": "oto", "processQueryKey": key, **body})
        return web.json_response(
            {
                "processQueryKey": key,
                "invalidStaffIdList": invalid,
                "flowControlledStaffIdList": [],
                "filteredStaffIdList": [],
            }
        )

    async def _group(self, request: web.Request) -> web.Response:
        self._auth(request)
        body = self._obj(request)
        self._check_robot(body)
        cid = body.get("openConversationId")
        if not isinstance(cid, str) or not cid:
            raise Refused(400, "invalidParameter.openConversationId", "openConversationId")
        if self.known_conversations is not None and cid not in self.known_conversations:
            raise Refused(400, "resource.not.found", "robot is not in this group")
        if body.get("msgKey") not in _MSG_KEYS:
            raise Refused(400, "invalidParameter.msgKey", "unknown msgKey")
        self._json_str(body.get("msgParam"), "msgParam")
        key = uuid.uuid4().hex
        self.messages.append({"kind": "group", "processQueryKey": key, **body})
        return web.json_response({"processQueryKey": key})

    async def _download(self, request: web.Request) -> web.Response:
        self._auth(request)
        body = self._obj(request)
        self._check_robot(body)
        code = body.get("downloadCode")
        if not isinstance(code, str) or code not in self.files:
            raise Refused(400, "invalidParameter.downloadCode", "downloadCode is invalid")
        return web.json_response({"downloadUrl": f"{self.base_url}/files/{code}"})

    async def _file(self, request: web.Request) -> web.Response:
        content = self.files.get(request.match_info["code"])
        if content is None:
            return web.Response(status=404, text="not found")
        return web.Response(body=content, content_type="application/octet-stream")

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_post(TOKEN_PATH, self._token)
        app.router.add_post("/v1.0/robot/oToMessages/batchSend", self._oto)
        app.router.add_post("/v1.0/robot/groupMessages/send", self._group)
        app.router.add_post("/v1.0/card/instances/createAndDeliver", self._create_and_deliver)
        app.router.add_put("/v1.0/card/instances", self._update_instance)
        app.router.add_post("/v1.0/card/callbacks/register", self._register_callback)
        app.router.add_post("/v1.0/im/v1.0/robot/interactiveCards/send", self._robot_card_send)
        app.router.add_put("/v1.0/im/robots/interactiveCards", self._robot_card_update)
        app.router.add_post("/v1.0/robot/messageFiles/download", self._download)
        app.router.add_get("/files/{code}", self._file)
        return app

    async def start(self) -> FakeDingtalk:
        self._runner = web.AppRunner(self.app(), handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def start_fake_dingtalk(**kwargs: Any) -> FakeDingtalk:
    """Start a fake on an ephemeral loopback port; ``await fake.close()`` when done."""
    return await FakeDingtalk(**kwargs).start()
