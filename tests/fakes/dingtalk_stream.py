"""A fake DingTalk Stream gateway on 127.0.0.1 (reference/dingtalk.md §2; developerpedia's
Stream protocol page), written from the protocol, not from our client.

* ``POST /v1.0/gateway/connections/open`` checks the client id and secret and the
  subscriptions, and answers ``{"endpoint": "ws://.../connect", "ticket": ...}``; a ticket is
  single-use and valid 90 s.
* ``GET /connect?ticket=...`` upgrades to the WebSocket. Frames are
  ``{"specVersion", "type", "headers": {"topic", "messageId", "contentType", "time", ...},
  "data": "<JSON string>"}``; each delivery attempt gets a fresh ``messageId``.
* Acks are recorded (``acks``) and checked for the protocol's shape (``ack_problems``). A frame is
  done when an ack with code 200 (events: ``status: SUCCESS``) comes back; otherwise, after
  ``redeliver_after`` seconds or as soon as its connection is gone, it is delivered again.
* Script it: ``push_robot`` / ``push_card`` / ``push_event``, ``drop`` (cut the TCP connection),
  ``disconnect`` (the SYSTEM ``disconnect`` frame), ``ping``, ``lose_next_ack`` (the ack is
  "lost" and the frame goes to another connection), ``refuse_opens``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

ROBOT_TOPIC = "/v1.0/im/bot/messages/get"
CARD_TOPIC = "/v1.0/card/instances/callback"


@dataclass
class Push:
    """One logical message and every attempt to deliver it."""

    id: int
    type: str  # CALLBACK | EVENT
    topic: str
    data: str
    headers: dict[str, str]
    deliveries: list[tuple[str, int, float]] = field(default_factory=list)  # (messageId, conn, t)
    acks: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False
    done_at: float = 0.0  # monotonic time of the ack that completed it
    lose_acks: int = 0
    prefer_other: bool = False
    drop_on_ack: bool = False

    @property
    def conns(self) -> list[int]:
        return [c for _, c, _ in self.deliveries]


@dataclass
class _Conn:
    id: int
    ws: web.WebSocketResponse
    request: web.Request
    topics: set[str]
    opened_at: float = field(default_factory=time.monotonic)


@dataclass
class FakeStreamGateway:
    client_id: str
    client_secret: str
    redeliver_after: float = 1.0
    max_deliveries: int = 30
    base_url: str = ""
    opens: list[dict[str, Any]] = field(default_factory=list)  # open-connection request bodies
    acks: list[dict[str, Any]] = field(default_factory=list)  # every ack frame received
    ack_problems: list[str] = field(default_factory=list)
    pushes: list[Push] = field(default_factory=list)
    conns: dict[int, _Conn] = field(default_factory=dict)  # live connections
    connections_made: int = 0
    pongs: list[dict[str, Any]] = field(default_factory=list)
    refuse_opens: int = 0  # answer the next N open requests with HTTP 503
    open_attempts: int = 0
    _tickets: dict[str, tuple[set[str], float]] = field(default_factory=dict)
    _by_message: dict[str, Push] = field(default_factory=dict)
    _pending: dict[int, Push] = field(default_factory=dict)  # not yet acknowledged
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    _ticker: asyncio.Task[None] | None = None

    # --- scripting ----------------------------------------------------------------------------

    def _push(self, kind: str, topic: str, data: Any, headers: dict[str, str]) -> Push:
        push = Push(next(self._ids), kind, topic, json.dumps(data, ensure_ascii=False), headers)
        self.pushes.append(push)
        self._pending[push.id] = push
        return push

    async def push_robot(
        self,
        data: dict[str, Any],
        *,
        to: int | None = None,
        lose_ack: bool = False,
        drop_on_ack: bool = False,
    ) -> Push:
        """``lose_ack``: the first ack never arrives and the frame goes to another connection;
        ``drop_on_ack``: the connection breaks just as the ack is sent (it is lost too)."""
        push = self._push("CALLBACK", ROBOT_TOPIC, data, {})
        if lose_ack:
            self.lose_next_ack(push)
        push.drop_on_ack = drop_on_ack
        await self._deliver(push, to)
        return push

    async def push_card(self, data: dict[str, Any], *, to: int | None = None) -> Push:
        push = self._push("CALLBACK", CARD_TOPIC, data, {})
        await self._deliver(push, to)
        return push

    async def push_event(
        self, event_type: str, data: dict[str, Any], *, event_id: str, to: int | None = None
    ) -> Push:
        headers = {
            "eventType": event_type,
            "eventId": event_id,
            "eventCorpId": "dingcorp0001",
            "eventBornTime": str(int(time.time() * 1000)),
            "eventUnifiedAppId": "unified-app-1",
        }
        push = self._push("EVENT", "*", data, headers)
        await self._deliver(push, to)
        return push

    async def push_raw(self, frame: dict[str, Any], *, to: int | None = None) -> None:
        conn = self.conns.get(to) if to is not None else next(iter(self.conns.values()), None)
        if conn is not None:
            await conn.ws.send_str(json.dumps(frame))

    def lose_next_ack(self, push: Push, *, to_other: bool = True) -> None:
        """The next ack of ``push`` is dropped on the way; it is delivered again, preferably on
        another connection (DingTalk picks a connection at random)."""
        push.lose_acks += 1
        push.prefer_other = to_other

    async def drop(self, conn_id: int | None = None) -> None:
        """Cut a connection without a close frame (a network failure)."""
        for cid in [conn_id] if conn_id is not None else list(self.conns):
            conn = self.conns.pop(cid, None)
            if conn is not None and conn.request.transport is not None:
                conn.request.transport.abort()

    async def disconnect(self, conn_id: int) -> None:
        """The SYSTEM ``disconnect`` frame; the connection is closed 1 s later (10 s for real)."""
        conn = self.conns.get(conn_id)
        if conn is None:
            return
        frame = {
            "specVersion": "1.0",
            "type": "SYSTEM",
            "headers": {"topic": "disconnect", "contentType": "application/json"},
            "data": json.dumps({"reason": "connection is expired"}),
        }
        await conn.ws.send_str(json.dumps(frame))

        async def later() -> None:
            await asyncio.sleep(1.0)
            self.conns.pop(conn_id, None)
            await conn.ws.close()

        asyncio.get_running_loop().create_task(later())

    async def ping(self, conn_id: int, opaque: str) -> None:
        frame = {
            "specVersion": "1.0",
            "type": "SYSTEM",
            "headers": {
                "topic": "ping",
                "messageId": f"ping-{uuid.uuid4().hex[:8]}",
                "contentType": "application/json",
                "time": str(int(time.time() * 1000)),
            },
            "data": json.dumps({"opaque": opaque}),
        }
        await self.conns[conn_id].ws.send_str(json.dumps(frame))

    def acks_for(self, push: Push) -> list[dict[str, Any]]:
        return push.acks

    # --- delivery -----------------------------------------------------------------------------

    def _pick(self, push: Push, to: int | None) -> _Conn | None:
        live = [c for c in self.conns.values() if push.topic in c.topics]
        if to is not None:
            live = [c for c in live if c.id == to] or live
        if push.prefer_other and push.deliveries:
            others = [c for c in live if c.id != push.deliveries[-1][1]]
            live = others or live
        return live[0] if live else None

    async def _deliver(self, push: Push, to: int | None = None) -> None:
        if push.done or len(push.deliveries) >= self.max_deliveries:
            return
        conn = self._pick(push, to)
        if conn is None:
            return  # nobody connected: the ticker delivers it when someone is
        message_id = f"{uuid.uuid4().hex[:8]}_{push.id}_{len(push.deliveries)}"
        headers = {
            "appId": "fake-app-id",
            "connectionId": f"conn-{conn.id}",
            "contentType": "application/json",
            "messageId": message_id,
            "time": str(int(time.time() * 1000)),
            "topic": push.topic,
            **push.headers,
        }
        frame = {"specVersion": "1.0", "type": push.type, "headers": headers, "data": push.data}
        push.deliveries.append((message_id, conn.id, time.monotonic()))
        self._by_message[message_id] = push
        with contextlib.suppress(ConnectionError, RuntimeError):
            await conn.ws.send_str(json.dumps(frame, ensure_ascii=False))

    async def _tick(self) -> None:
        """Deliver again what was not acknowledged in time or whose connection went away."""
        while True:
            await asyncio.sleep(0.05)
            now = time.monotonic()
            for push in list(self._pending.values()):
                if push.done:
                    continue
                if not push.deliveries:
                    await self._deliver(push)
                    continue
                _, conn, at = push.deliveries[-1]
                if conn not in self.conns or now - at >= self.redeliver_after:
                    await self._deliver(push)

    def _check_ack(self, ack: Any, push: Push | None) -> bool:
        """Record the ack; True when it tells the gateway the frame was consumed."""
        if not isinstance(ack, dict):
            self.ack_problems.append(f"not an object: {ack!r}")
            return False
        headers = ack.get("headers")
        if not isinstance(ack.get("code"), int) or not isinstance(headers, dict):
            self.ack_problems.append(f"no code or headers: {ack!r}")
            return False
        if headers.get("contentType") != "application/json":
            self.ack_problems.append(f"contentType: {ack!r}")
        try:
            data = json.loads(ack.get("data", ""))
        except (TypeError, ValueError):
            self.ack_problems.append(f"data is not a JSON string: {ack!r}")
            return False
        if push is None:
            return ack["code"] == 200
        if push.type == "CALLBACK" and not (isinstance(data, dict) and "response" in data):
            self.ack_problems.append(f"callback ack without response: {ack!r}")
        if push.type == "EVENT":
            status = data.get("status") if isinstance(data, dict) else None
            if status not in ("SUCCESS", "LATER"):
                self.ack_problems.append(f"event ack without status: {ack!r}")
            return ack["code"] == 200 and status == "SUCCESS"
        return ack["code"] == 200

    def _on_ack(self, text: str, conn: _Conn) -> None:
        try:
            ack = json.loads(text)
        except ValueError:
            self.ack_problems.append(f"not JSON: {text!r}")
            return
        headers = ack.get("headers") if isinstance(ack, dict) else None
        message_id = headers.get("messageId") if isinstance(headers, dict) else None
        if (
            isinstance(ack, dict)
            and isinstance(headers, dict)
            and headers.get("messageId", "").startswith("ping-")
        ):
            self.pongs.append(ack)
        push = self._by_message.get(message_id) if isinstance(message_id, str) else None
        ok = self._check_ack(ack, push)
        self.acks.append({"conn": conn.id, "ack": ack, "ok": ok})
        if push is None:
            return
        push.acks.append(ack)
        if push.drop_on_ack:
            push.drop_on_ack = False
            self.conns.pop(conn.id, None)
            if conn.request.transport is not None:
                conn.request.transport.abort()
            return
        if ok and push.lose_acks:
            push.lose_acks -= 1
            # the ack never reached us: make it due at once
            mid, cid, _ = push.deliveries[-1]
            push.deliveries[-1] = (mid, cid, 0.0)
            return
        if ok:
            push.done, push.done_at = True, time.monotonic()
            self._pending.pop(push.id, None)
        else:  # a failure answer: deliver again soon (not in a tight loop)
            mid, cid, at = push.deliveries[-1]
            push.deliveries[-1] = (mid, cid, min(at, time.monotonic() - self.redeliver_after + 0.2))

    # --- HTTP ---------------------------------------------------------------------------------

    async def _open(self, request: web.Request) -> web.Response:
        self.open_attempts += 1
        if self.refuse_opens:
            self.refuse_opens -= 1
            return web.json_response({"code": "system.busy", "message": "busy"}, status=503)
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"code": "param.invalid", "message": "body"}, status=400)
        self.opens.append(body)
        if body.get("clientId") != self.client_id or body.get("clientSecret") != self.client_secret:
            return web.json_response(
                {"code": "invalidClientIdOrSecret", "message": "无效的clientId或者clientSecret"},
                status=400,
            )
        subs = body.get("subscriptions")
        if not isinstance(subs, list) or not subs:
            return web.json_response(
                {"code": "param.invalid", "message": "subscriptions"}, status=400
            )
        topics = set()
        for sub in subs:
            if not isinstance(sub, dict) or sub.get("type") not in ("EVENT", "CALLBACK"):
                return web.json_response({"code": "param.invalid", "message": "type"}, status=400)
            if sub["type"] == "EVENT" and sub.get("topic") != "*":
                return web.json_response({"code": "param.invalid", "message": "topic"}, status=400)
            topics.add(sub.get("topic"))
        ticket = str(uuid.uuid4())
        self._tickets[ticket] = (topics, time.monotonic() + 90)
        host, port = request.url.host, request.url.port
        return web.json_response({"endpoint": f"ws://{host}:{port}/connect", "ticket": ticket})

    async def _connect(self, request: web.Request) -> web.StreamResponse:
        entry = self._tickets.pop(request.query.get("ticket", ""), None)
        if entry is None or entry[1] < time.monotonic():
            return web.json_response({"code": "invalid ticket"}, status=401)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.connections_made += 1
        conn = _Conn(self.connections_made, ws, request, entry[0])
        self.conns[conn.id] = conn
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._on_ack(msg.data, conn)
        finally:
            self.conns.pop(conn.id, None)
        return ws

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1.0/gateway/connections/open", self._open)
        app.router.add_get("/connect", self._connect)
        return app

    async def start(self) -> FakeStreamGateway:
        self._runner = web.AppRunner(self.app(), handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        self._ticker = asyncio.get_running_loop().create_task(self._tick())
        return self

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        await self.drop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def start_fake_gateway(**kwargs: Any) -> FakeStreamGateway:
    return await FakeStreamGateway(**kwargs).start()
