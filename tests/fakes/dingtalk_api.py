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
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN_PATH = "/v1.0/oauth2/accessToken"
_BODY = web.RequestKey("dingtalk_fake_body", object)
_SPACE_RE = re.compile(r"^dtv1\.card//(IM_GROUP|IM_ROBOT|IM_SINGLE|ONE_BOX)\.(.+)$", re.I)
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


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str = "") -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message or code


@dataclass
class FakeDingtalk:
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
        request[_BODY] = body
        try:
            return await handler(request)
        except _Refused as exc:
            return self._error(exc.status, exc.code, exc.message)

    def _auth(self, request: web.Request) -> None:
        token = request.headers.get("x-acs-dingtalk-access-token")
        if not token:
            raise _Refused(400, "MissingParameter", "x-acs-dingtalk-access-token is blank")
        if token not in self.valid_tokens:
            raise _Refused(400, "InvalidAuthentication", "不合法的access_token")

    @staticmethod
    def _obj(request: web.Request) -> dict[str, Any]:
        body = request[_BODY]
        if not isinstance(body, dict):
            raise _Refused(400, "InvalidParameter", "body must be a JSON object")
        return body

    @staticmethod
    def _json_str(value: Any, name: str) -> Any:
        if not isinstance(value, str):
            raise _Refused(400, "invalidParameter", f"{name} must be a JSON string")
        try:
            return json.loads(value)
        except ValueError as exc:
            raise _Refused(400, "invalidParameter", f"{name} is not JSON") from exc

    def _check_robot(self, body: dict[str, Any]) -> None:
        if body.get("robotCode") != (self.robot_code or self.app_key):
            raise _Refused(400, "invalidParameter.robotCode", "robot does not exist")

    def _check_param_map(self, data: Any, name: str) -> dict[str, str]:
        pm = data.get("cardParamMap") if isinstance(data, dict) else None
        if not isinstance(pm, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in pm.items()
        ):
            raise _Refused(400, "param.invalid", f"{name}.cardParamMap must map strings")
        return pm

    # --- endpoints ----------------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        body = self._obj(request)
        if body.get("appKey") != self.app_key or body.get("appSecret") != self.app_secret:
            raise _Refused(400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
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
            raise _Refused(400, "invalidParameter.userIds", "userIds must hold 1..20 ids")
        if body.get("msgKey") not in _MSG_KEYS:
            raise _Refused(400, "invalidParameter.msgKey", "unknown msgKey")
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
            raise _Refused(400, "invalidParameter.openConversationId", "openConversationId")
        if self.known_conversations is not None and cid not in self.known_conversations:
            raise _Refused(400, "resource.not.found", "robot is not in this group")
        if body.get("msgKey") not in _MSG_KEYS:
            raise _Refused(400, "invalidParameter.msgKey", "unknown msgKey")
        self._json_str(body.get("msgParam"), "msgParam")
        key = uuid.uuid4().hex
        self.messages.append({"kind": "group", "processQueryKey": key, **body})
        return web.json_response({"processQueryKey": key})

    def _space(self, body: dict[str, Any]) -> list[tuple[str, str]]:
        raw = body.get("openSpaceId")
        if not isinstance(raw, str) or not raw:
            raise _Refused(400, "param.openSpaceIdEmpty")
        spaces: list[tuple[str, str]] = []
        for i, part in enumerate(raw.split(";")):
            m = _SPACE_RE.match(part if i == 0 else "dtv1.card//" + part)
            if not m:
                raise _Refused(400, "param.openSpaceIdInvalid")
            spaces.append((m.group(1).upper(), m.group(2)))
        return spaces

    async def _create_and_deliver(self, request: web.Request) -> web.Response:
        self._auth(request)
        body = self._obj(request)
        track = body.get("outTrackId")
        if not isinstance(track, str) or not track:
            raise _Refused(400, "param.outTrackIdEmpty")
        if not body.get("cardTemplateId"):
            raise _Refused(400, "param.cardTemplateIdEmpty")
        params = self._check_param_map(body.get("cardData"), "cardData")
        private = body.get("privateData") or {}
        for uid, data in private.items() if isinstance(private, dict) else [(0, None)]:
            self._check_param_map(data, f"privateData.{uid}")
        if body.get("callbackType") not in (None, "STREAM", "HTTP"):
            raise _Refused(400, "param.invalid", "callbackType")
        results = []
        for space_type, space_id in self._space(body):
            prefix = {"IM_GROUP": "imGroup", "IM_ROBOT": "imRobot"}.get(space_type, "x")
            model = body.get(f"{prefix}OpenSpaceModel")
            deliver = body.get(f"{prefix}OpenDeliverModel")
            if not isinstance(model, dict) or "supportForward" not in model:
                raise _Refused(400, "param.openSpaceModelEmpty")
            if not isinstance(deliver, dict):
                raise _Refused(400, "param.openDeliverModelEmpty")
            if space_type == "IM_GROUP":
                self._check_robot(deliver)
            if space_type == "IM_ROBOT" and self.known_users is not None:
                if space_id not in self.known_users:
                    raise _Refused(400, "param.userIdNotExist")
            results.append(
                {
                    "spaceType": space_type,
                    "spaceId": space_id,
                    "success": True,
                    "carrierId": uuid.uuid4().hex,
                    "errorMsg": "",
                }
            )
        if track in self.cards:
            raise _Refused(400, "param.cardAlreadyExist")
        self.cards[track] = {
            "template": body["cardTemplateId"],
            "public": dict(params),
            "private": {u: dict(d["cardParamMap"]) for u, d in private.items()},
            "updates": 0,
            "request": body,
        }
        return web.json_response(
            {"success": True, "result": {"outTrackId": track, "deliverResults": results}}
        )

    async def _update_instance(self, request: web.Request) -> web.Response:
        self._auth(request)
        body = self._obj(request)
        card = self.cards.get(body.get("outTrackId") or "")
        if card is None:
            raise _Refused(400, "param.cardNotExist")
        opts = body.get("cardUpdateOptions") or {}
        if "cardData" in body:
            params = self._check_param_map(body["cardData"], "cardData")
            if opts.get("updateCardDataByKey"):
                card["public"].update(params)
            else:
                card["public"] = dict(params)
        for uid, data in (body.get("privateData") or {}).items():
            pm = self._check_param_map(data, f"privateData.{uid}")
            if opts.get("updatePrivateDataByKey"):
                card["private"].setdefault(uid, {}).update(pm)
            else:
                card["private"][uid] = dict(pm)
        card["updates"] += 1
        return web.json_response({"success": True, "result": True})

    async def _robot_card_send(self, request: web.Request) -> web.Response:
        self._auth(request)
        body = self._obj(request)
        self._check_robot(body)
        biz = body.get("cardBizId")
        if not isinstance(biz, str) or not biz or not body.get("cardTemplateId"):
            raise _Refused(400, "invalidParameter", "cardBizId and cardTemplateId are required")
        data = self._json_str(body.get("cardData"), "cardData")
        group, single = body.get("openConversationId"), body.get("singleChatReceiver")
        if bool(group) == bool(single):
            raise _Refused(400, "invalidParameter", "one of openConversationId/singleChatReceiver")
        if single:
            receiver = self._json_str(single, "singleChatReceiver")
            uid = receiver.get("userId") if isinstance(receiver, dict) else None
            if not uid or (self.known_users is not None and uid not in self.known_users):
                raise _Refused(400, "invalidParameter.singleChatReceiver", "unknown user")
        private = body.get("userIdPrivateDataMap")
        private_data = self._json_str(private, "userIdPrivateDataMap") if private else {}
        key = uuid.uuid4().hex
        if biz not in self.robot_cards:  # same cardBizId again: no new card, data unchanged
            self.robot_cards[biz] = {
                "data": data,
                "private": private_data,
                "updates": 0,
                "request": body,
            }
        return web.json_response({"processQueryKey": key})

    async def _robot_card_update(self, request: web.Request) -> web.Response:
        self._auth(request)
        body = self._obj(request)
        card = self.robot_cards.get(body.get("cardBizId") or "")
        if card is None:
            raise _Refused(400, "invalidParameter.cardBizId", "card does not exist")
        card["data"] = self._json_str(body.get("cardData"), "cardData")
        if body.get("userIdPrivateDataMap"):
            card["private"] = self._json_str(body["userIdPrivateDataMap"], "userIdPrivateDataMap")
        card["updates"] += 1
        return web.json_response({"success": True, "result": True})

    async def _register_callback(self, request: web.Request) -> web.Response:
        self._auth(request)
        body = self._obj(request)
        key = body.get("callbackRouteKey")
        if not key or not body.get("callbackUrl"):
            raise _Refused(400, "param.invalid", "callbackRouteKey and callbackUrl")
        if key not in self.callbacks or body.get("forceUpdate"):
            self.callbacks[key] = body
        stored = self.callbacks[key]
        return web.json_response(
            {
                "success": True,
                "result": {
                    "callbackUrl": stored["callbackUrl"],
                    "apiSecret": stored.get("apiSecret"),
                },
            }
        )

    async def _download(self, request: web.Request) -> web.Response:
        self._auth(request)
        body = self._obj(request)
        self._check_robot(body)
        code = body.get("downloadCode")
        if not isinstance(code, str) or code not in self.files:
            raise _Refused(400, "invalidParameter.downloadCode", "downloadCode is invalid")
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
