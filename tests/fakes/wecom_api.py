"""A fake WeCom server API (reference/wecom.md §5) on 127.0.0.1 with an ephemeral port.

Independent of bot/wecom/render.py: the card limits below are re-derived from spec §5.5.
Where the spec names no errcode, the fake answers 40058 ("invalid parameter", our reading).

    async with start_fake_wecom() as fake:
        settings = WecomSettings(..., api_base=fake.base_url)
        fake.fail_with(45009, times=1)       # next API call answers errcode 45009
        fake.expire_token_once()             # next API call answers 42001, token rotated
        fake.http_500(times=2); fake.html_error(); fake.timeout(times=1, delay=1.0)
        fake.response_code_spent()           # every known response code counts as used
        fake.outage(active=lambda: ..., errcode=45009)  # every API call fails while active()
        fake.outage(active=lambda: ..., kind="html502") # ... with a 502 HTML page
        fake.calls / fake.sent / fake.updates / fake.token_requests
        fake.on_accept = hook                # awaited once a call is accepted, before answering
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.wecom_cards import validate_template_card

CORP_ID = "ww0123456789abcdef"
SECRET = "fake-secret-0123456789"
AGENT_ID = 1000002
INVALID_PARAM = 40058
USERID_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z_\-@.]{0,63}")
INTERACTIVE = {"button_interaction", "vote_interaction", "multiple_interaction"}


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    json: Any


@dataclass
class _Rule:
    kind: str  # errcode | http500 | html | html502 | timeout
    errcode: int = 0
    times: int | None = None
    until: float | None = None
    delay: float = 0.0
    path: str | None = None
    active: Callable[[], bool] | None = None

    def matches(self, path: str) -> bool:
        if self.until is not None and time.monotonic() > self.until:
            return False
        if self.active is not None and not self.active():
            return False
        if self.times is not None and self.times <= 0:
            return False
        if self.path is None:
            return path != "gettoken"
        return self.path == path


@dataclass
class FakeWecom:
    corp_id: str = CORP_ID
    secret: str = SECRET
    agent_id: int = AGENT_ID
    expires_in: int = 7200
    known_users: set[str] | None = None  # None: every well-formed userid exists
    token_delay: float = 0.0
    base_url: str = ""
    on_accept: Callable[[Call], Awaitable[None]] | None = None
    calls: list[Call] = field(default_factory=list)
    _accepted: list[Call] = field(default_factory=list)
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    _rules: list[_Rule] = field(default_factory=list)
    _token: str = ""
    _expired: set[str] = field(default_factory=set)
    _expire_next: bool = False
    _codes: dict[str, str] = field(default_factory=dict)  # response_code -> task_id
    _used_codes: set[str] = field(default_factory=set)
    _task_ids: set[str] = field(default_factory=set)
    _seq: itertools.count = field(default_factory=lambda: itertools.count(1))
    _token_seq: itertools.count = field(default_factory=lambda: itertools.count(1))

    # -- scripting ----------------------------------------------------------------------------

    def expire_token_once(self) -> None:
        self._expire_next = True

    def fail_with(
        self,
        errcode: int,
        *,
        times: int | None = None,
        for_seconds: float | None = None,
        path: str | None = None,
    ) -> None:
        if times is None and for_seconds is None:
            times = 1
        until = time.monotonic() + for_seconds if for_seconds is not None else None
        self._rules.append(_Rule("errcode", errcode=errcode, times=times, until=until, path=path))

    def http_500(self, times: int = 1, *, path: str | None = None) -> None:
        self._rules.append(_Rule("http500", times=times, path=path))

    def html_error(self, times: int = 1, *, path: str | None = None) -> None:
        self._rules.append(_Rule("html", times=times, path=path))

    def outage(
        self,
        *,
        active: Callable[[], bool],
        kind: str = "errcode",
        errcode: int = 0,
        path: str | None = None,
    ) -> None:
        """Every API call (gettoken aside) fails while ``active()`` is true: a test drives it
        from its own clock, so an outage of a minute takes no minute."""
        self._rules.append(_Rule(kind, errcode=errcode, path=path, active=active))

    def timeout(self, times: int = 1, *, delay: float = 2.0, path: str | None = None) -> None:
        self._rules.append(_Rule("timeout", times=times, delay=delay, path=path))

    def response_code_spent(self, code: str | None = None) -> None:
        """Mark one response code (or every code issued so far) as already used."""
        self._used_codes.update([code] if code else list(self._codes))

    def issue_response_code(self, task_id: str) -> str:
        """What a member's click would carry as ResponseCode."""
        code = f"rc-{next(self._seq)}"
        self._codes[code] = task_id
        return code

    def add_media(self, media_id: str, data: bytes, content_type: str = "image/jpeg") -> None:
        self.media[media_id] = (data, content_type)

    # -- views --------------------------------------------------------------------------------

    def calls_to(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.path == path]

    @property
    def token_requests(self) -> int:
        return len(self.calls_to("gettoken"))

    @property
    def sent(self) -> list[dict[str, Any]]:
        return [c.json for c in self._accepted if c.path == "message/send"]

    @property
    def updates(self) -> list[dict[str, Any]]:
        return [c.json for c in self._accepted if c.path == "message/update_template_card"]

    # -- server -------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/cgi-bin/{path:.+}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        call = Call(request.method, path, dict(request.query), body)
        self.calls.append(call)
        for rule in self._rules:
            if rule.matches(path):
                if rule.times is not None:
                    rule.times -= 1
                return await self._scripted(rule)
        if path == "gettoken":
            if self.token_delay:
                await asyncio.sleep(self.token_delay)
            return web.json_response(self._gettoken(call.query))
        handler = {
            "message/send": self._send,
            "message/update_template_card": self._update,
            "media/get": self._media,
        }.get(path)
        if handler is None:
            return web.json_response({"errcode": 404, "errmsg": "unknown api (fake)"})
        denied = self._check_token(call.query)
        if denied:
            return web.json_response(denied)
        answer = handler(call)
        if isinstance(answer, web.StreamResponse):
            return answer
        if answer.get("errcode") == 0:
            self._accepted.append(call)
            if self.on_accept is not None:
                await self.on_accept(call)
        return web.json_response(answer)

    async def _scripted(self, rule: _Rule) -> web.StreamResponse:
        if rule.kind == "http500":
            return web.Response(status=500, text="Internal Server Error")
        if rule.kind == "html502":
            html = "<html><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>"
            return web.Response(status=502, text=html, content_type="text/html")
        if rule.kind == "html":
            html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
            return web.Response(status=200, text=html, content_type="text/html")
        if rule.kind == "timeout":
            await asyncio.sleep(rule.delay)
            return web.json_response({"errcode": -1, "errmsg": "system busy (late)"})
        return web.json_response({"errcode": rule.errcode, "errmsg": "scripted failure"})

    def _gettoken(self, q: dict[str, str]) -> dict[str, Any]:
        if not q.get("corpid"):
            return {"errcode": 41002, "errmsg": "corpid missing"}
        if not q.get("corpsecret"):
            return {"errcode": 41004, "errmsg": "corpsecret missing"}
        if q["corpid"] != self.corp_id:
            return {"errcode": 40013, "errmsg": "invalid corpid"}
        if q["corpsecret"] != self.secret:
            return {"errcode": 40001, "errmsg": "invalid credential"}
        if not self._token or self._token in self._expired:
            self._token = f"fake-token-{next(self._token_seq)}"
        return {
            "errcode": 0,
            "errmsg": "ok",
            "access_token": self._token,
            "expires_in": self.expires_in,
        }

    def _check_token(self, q: dict[str, str]) -> dict[str, Any] | None:
        token = q.get("access_token")
        if not token:
            return {"errcode": 41001, "errmsg": "access_token missing"}
        if token in self._expired:
            return {"errcode": 42001, "errmsg": "access_token expired"}
        if token != self._token:
            return {"errcode": 40014, "errmsg": "invalid access_token"}
        if self._expire_next:
            self._expire_next = False
            self._expired.add(token)
            return {"errcode": 42001, "errmsg": "access_token expired"}
        return None

    def _user_ok(self, user: str) -> bool:
        if not USERID_RE.fullmatch(user) or len(user.encode()) > 64:
            return False
        return self.known_users is None or user.lower() in {u.lower() for u in self.known_users}

    def _check_agent(self, body: dict[str, Any]) -> dict[str, Any] | None:
        agentid = body.get("agentid")
        if not isinstance(agentid, int) or isinstance(agentid, bool):
            return {"errcode": 40056, "errmsg": "invalid agentid"}
        if agentid != self.agent_id:
            return {"errcode": 301002, "errmsg": "agentid does not match the token's app"}
        return None

    def _send(self, call: Call) -> dict[str, Any]:
        body = call.json
        if not isinstance(body, dict):
            return {"errcode": 47001, "errmsg": "data format error"}
        bad = self._check_agent(body)
        if bad:
            return bad
        if not any(body.get(k) for k in ("touser", "toparty", "totag")):
            return {"errcode": INVALID_PARAM, "errmsg": "no recipient"}
        msgtype = body.get("msgtype")
        payload = body.get(msgtype) if isinstance(msgtype, str) else None
        if msgtype not in ("text", "markdown", "template_card") or not isinstance(payload, dict):
            return {"errcode": 40008, "errmsg": "invalid message type"}
        if msgtype in ("text", "markdown"):
            content = payload.get("content")
            if not isinstance(content, str) or not content:
                return {"errcode": 44004, "errmsg": "empty content"}
            if len(content.encode("utf-8")) > 2048:
                return {"errcode": 45002, "errmsg": "content size out of limit"}
        code = ""
        if msgtype == "template_card":
            problem = validate_template_card(payload)
            if problem:
                return {"errcode": INVALID_PARAM, "errmsg": problem}
            task_id = payload.get("task_id")
            if task_id in self._task_ids:
                return {"errcode": INVALID_PARAM, "errmsg": "task_id already used"}
            if task_id:
                self._task_ids.add(task_id)
            if payload["card_type"] in INTERACTIVE:
                code = self.issue_response_code(str(task_id))
        users = [u for u in str(body.get("touser", "")).split("|") if u]
        invalid = [u.lower() for u in users if not self._user_ok(u)]
        answer = {"errcode": 0, "errmsg": "ok", "invaliduser": "|".join(invalid)}
        if (
            users
            and len(invalid) == len(users)
            and not body.get("toparty")
            and not body.get("totag")
        ):
            return {**answer, "errcode": 81013, "errmsg": "all recipients invalid"}
        answer["msgid"] = f"msgid-{next(self._seq)}"
        if code:
            answer["response_code"] = code
        return answer

    def _update(self, call: Call) -> dict[str, Any]:
        body = call.json
        if not isinstance(body, dict):
            return {"errcode": 47001, "errmsg": "data format error"}
        bad = self._check_agent(body)
        if bad:
            return bad
        userids = body.get("userids") or []
        if not body.get("atall") and (not isinstance(userids, list) or not userids):
            return {"errcode": INVALID_PARAM, "errmsg": "no userids"}
        if len(userids) > 1000:
            return {"errcode": INVALID_PARAM, "errmsg": "too many userids"}
        code = body.get("response_code")
        if not isinstance(code, str) or code not in self._codes or code in self._used_codes:
            return {"errcode": INVALID_PARAM, "errmsg": "invalid or used response_code"}
        if "template_card" in body:
            problem = validate_template_card(body["template_card"])
            if problem:
                return {"errcode": INVALID_PARAM, "errmsg": problem}
        elif isinstance(body.get("button"), dict):
            if not body["button"].get("replace_name"):
                return {"errcode": INVALID_PARAM, "errmsg": "replace_name missing"}
        else:
            return {"errcode": INVALID_PARAM, "errmsg": "nothing to update"}
        self._used_codes.add(code)
        return {"errcode": 0, "errmsg": "ok", "invaliduser": []}

    def _media(self, call: Call) -> web.StreamResponse | dict[str, Any]:
        media_id = call.query.get("media_id", "")
        if media_id not in self.media:
            return {"errcode": 40007, "errmsg": "invalid media_id"}
        data, ctype = self.media[media_id]
        headers = {"Content-Disposition": f'attachment; filename="{media_id}.bin"'}
        return web.Response(body=data, content_type=ctype, headers=headers)


@asynccontextmanager
async def start_fake_wecom(**kwargs: Any) -> AsyncIterator[FakeWecom]:
    """Run a FakeWecom on 127.0.0.1:<ephemeral>; ``kwargs`` go to FakeWecom."""
    fake = FakeWecom(**kwargs)
    runner = web.AppRunner(fake.app(), shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    fake.base_url = f"http://{host}:{port}"
    try:
        yield fake
    finally:
        await runner.cleanup()
