"""DingTalk Stream mode through the official ``dingtalk-stream`` SDK (reference/dingtalk.md §2).

The SDK does the protocol: the open-connection request (``open_connection``: client id and
secret, subscriptions, ua, local ip), the frame classes (``CallbackMessage``, ``EventMessage``,
``SystemMessage``), the acknowledgement frame (``AckMessage``), the handler bases and the ping
answer (``SystemHandler``). We plug in three things it leaves to the application:

* **Durable handlers** (``stream_handlers.py``). Every robot message, card click and event is
  decoded by the DingTalk adapter into the same neutral items as an HTTP callback and written to
  the inbox by ``store`` (same dedupe keys) *before* the handler returns, so the SDK's ack follows
  the commit. A failed write answers 500 (events: ``status: LATER``): the gateway sends it again.
* **The connection loop.** The SDK's own ``start()`` sleeps a fixed 10 s after any failure, calls
  the blocking ``requests`` open-connection request on the event loop and keeps no state. Ours
  runs that same request in a thread, reconnects with capped, jittered exponential backoff,
  answers each frame on the socket it came from, and reports connected / reconnects / frames.
* **The gateway address** (``dingtalk.stream_gateway``): the SDK reads its class attribute
  ``OPEN_CONNECTION_API`` on every call, so we point it there before each call (one gateway per
  process, as with the SDK's own ``DINGTALK_OPENAPI_ENDPOINT`` variable).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

import websockets
from dingtalk_stream import (
    AckMessage,
    CallbackMessage,
    ChatbotMessage,
    Credential,
    DingTalkStreamClient,
    EventMessage,
    SystemMessage,
)
from dingtalk_stream.card_callback import Card_Callback_Router_Topic

from bot.dingtalk.adapter import DingtalkAdapter
from bot.dingtalk.stream_handlers import (
    Durable,
    DurableCallbackHandler,
    DurableEventHandler,
    Quiet,
    Store,
    StreamObserver,
    ack_frame,
)

log = logging.getLogger(__name__)

ROBOT_TOPIC: str = ChatbotMessage.TOPIC  # /v1.0/im/bot/messages/get
CARD_TOPIC: str = Card_Callback_Router_Topic  # /v1.0/card/instances/callback
OPEN_PATH = "/v1.0/gateway/connections/open"
MAX_IN_FLIGHT = 500  # frames being written at once; the inbox writer commits them in groups


@dataclass
class StreamState:
    """What /readyz and /metrics show: connected or since when not, and how often it came back."""

    connected: bool = False
    since: float = field(default_factory=time.monotonic)  # when ``connected`` last changed
    connections: int = 0  # successful handshakes; reconnects = connections - 1
    last_error: str = ""

    @property
    def reconnects(self) -> int:
        return max(0, self.connections - 1)

    def ready(self, grace_s: float, now: float | None = None) -> bool:
        """Connected, or not for less than ``grace_s`` (a start or a reconnect in progress)."""
        now = time.monotonic() if now is None else now
        return self.connected or now - self.since < grace_s


def backoff_delay(
    attempt: int, *, base: float, cap: float, rng: Callable[[], float] = random.random
) -> float:
    """Exponential, capped, with "equal jitter": half the step fixed, half random, so that many
    instances cut off together do not come back together, yet none retries in a tight loop."""
    step = min(cap, base * 2 ** min(attempt, 32))
    return step / 2 + rng() * step / 2


# --- the client ---------------------------------------------------------------------------


class StreamOpenFailed(Exception):
    """The gateway did not hand out an endpoint and ticket."""


class DingtalkStream(DingTalkStreamClient):
    """The SDK's client with durable handlers and a reconnecting, observable connection loop."""

    def __init__(
        self,
        adapter: DingtalkAdapter,
        store: Store,
        *,
        observer: StreamObserver | None = None,
        rng: Callable[[], float] = random.random,
    ) -> None:
        settings = adapter.settings
        super().__init__(
            Credential(settings.app_key, settings.app_secret.get_secret_value()), logger=log
        )
        self.settings = settings
        self.observer: StreamObserver = observer or Quiet()
        self.state = StreamState()
        self._rng = rng
        self._open_url = settings.stream_gateway + OPEN_PATH
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._max_frame = settings.max_body_bytes + 8192  # the body plus the frame's envelope
        durable = Durable(store, self.observer)
        self.register_callback_handler(
            ROBOT_TOPIC, DurableCallbackHandler(ROBOT_TOPIC, adapter.robot_items, durable)
        )
        self.register_callback_handler(
            CARD_TOPIC, DurableCallbackHandler(CARD_TOPIC, adapter.card_items, durable)
        )
        self.register_all_event_handler(DurableEventHandler(adapter, durable))

    def open_connection(self) -> Any:
        DingTalkStreamClient.OPEN_CONNECTION_API = self._open_url
        return super().open_connection()

    async def _open(self) -> str:
        """The WebSocket URL with its single-use ticket (the SDK's request, off the loop)."""
        answer = await asyncio.wait_for(
            asyncio.to_thread(self.open_connection), self.settings.request_timeout_s
        )
        if not isinstance(answer, dict):
            raise StreamOpenFailed(
                "the gateway refused to open a connection: check dingtalk.app_key / app_secret "
                "(Client ID / Secret) and that the app's robot receives messages in Stream mode"
            )
        endpoint, ticket = answer.get("endpoint"), answer.get("ticket")
        if not isinstance(endpoint, str) or not endpoint.startswith(("wss://", "ws://")):
            raise StreamOpenFailed("the gateway answered without a WebSocket endpoint")
        if not isinstance(ticket, str) or not ticket:
            raise StreamOpenFailed("the gateway answered without a ticket")
        return f"{endpoint}?ticket={quote_plus(ticket)}"

    def _set(self, connected: bool, error: str = "") -> None:
        if connected != self.state.connected:
            self.state.connected = connected
            self.state.since = time.monotonic()
        if connected:
            self.state.connections += 1
        self.state.last_error = error
        self.observer.state_changed(self.state)

    async def start(self) -> None:
        """Connect, serve, and reconnect until cancelled."""
        self.pre_start()
        attempt = 0
        while True:
            error, healthy = "", False
            try:
                healthy = await self._connect_and_serve()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                log.warning("DingTalk stream connection failed: %s", error)
            if self.state.connected or error:
                self._set(False, error)
            if healthy:
                attempt = 0  # the connection worked; the next break starts from the base delay
            delay = backoff_delay(
                attempt,
                base=self.settings.stream_backoff_base_s,
                cap=self.settings.stream_backoff_cap_s,
                rng=self._rng,
            )
            attempt += 1
            await asyncio.sleep(delay)

    async def _connect_and_serve(self) -> bool:
        """One connection's life; True when it carried at least one frame."""
        uri = await self._open()
        healthy = False
        async with websockets.connect(
            uri,
            open_timeout=self.settings.request_timeout_s,
            ping_interval=20,
            ping_timeout=20,
            close_timeout=2,
            max_size=4 * self._max_frame,  # larger still: refused by the size check, not a drop
        ) as ws:
            self.websocket = ws
            self._set(True)
            log.info("DingTalk stream connected (%d reconnects)", self.state.reconnects)
            async for raw in ws:
                healthy = True
                await (
                    self._slots.acquire()
                )  # at most MAX_IN_FLIGHT: then stop reading (backpressure)
                task = asyncio.create_task(self._frame(raw, ws))
                self._tasks.add(task)
                task.add_done_callback(self._frame_done)
        return healthy

    def _frame_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()

    async def _frame(self, raw: str | bytes, ws: Any) -> None:
        """Route one frame through the SDK's handlers; answer on the socket it came from."""
        try:
            if len(raw.encode() if isinstance(raw, str) else raw) > self._max_frame:
                raise ValueError("frame too large")
            frame = json.loads(raw)
            if not isinstance(frame, dict):
                raise ValueError("frame is not a JSON object")
            kind = frame.get("type", "")
            disconnect = False
            ack: AckMessage | None = None
            if kind == SystemMessage.TYPE:
                msg = SystemMessage.from_dict(frame)
                disconnect = msg.headers.topic == SystemMessage.TOPIC_DISCONNECT
                if not disconnect:  # ping: echo its opaque; disconnect wants no answer
                    ack = await self.system_handler.raw_process(msg)
            elif kind == EventMessage.TYPE:
                ack = await self.event_handler.raw_process(EventMessage.from_dict(frame))
            elif kind == CallbackMessage.TYPE:
                msg = CallbackMessage.from_dict(frame)
                handler = self.callback_handler_map.get(msg.headers.topic)
                if handler is None:
                    self.observer.frame("other", "unknown")
                    ack = ack_frame(msg.headers.message_id, 404, "topic not subscribed", {})
                else:
                    ack = await handler.raw_process(msg)
            else:
                log.warning("stream frame of unknown type %r ignored", kind)
        except (ValueError, TypeError, AttributeError) as exc:  # bad JSON in the frame or data
            log.info("malformed stream frame refused: %s", exc)
            self.observer.frame("malformed", "rejected")
            message_id = _message_id(raw)
            ack = ack_frame(message_id, 400, "malformed frame", {}) if message_id else None
            disconnect = False
        if ack is not None:
            with contextlib.suppress(websockets.ConnectionClosed):
                await ws.send(json.dumps(ack.to_dict()))
        if disconnect:  # the gateway rotates connections: finish what is in flight, then go
            pending = [t for t in self._tasks if t is not asyncio.current_task()]
            if pending:
                await asyncio.wait(pending, timeout=5)
            await ws.close()

    def run_in_background(self) -> None:
        self._runner = asyncio.create_task(self.start(), name="dingtalk-stream")

    async def stop(self) -> None:
        """Stop reconnecting, drop the connection; frames not yet acknowledged come again."""
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2)
        if self.websocket is not None:
            with contextlib.suppress(Exception):
                await self.websocket.close()


def _message_id(raw: str | bytes) -> str:
    try:
        frame = json.loads(raw)
        headers = frame.get("headers") if isinstance(frame, dict) else None
        mid = headers.get("messageId") if isinstance(headers, dict) else None
    except (ValueError, TypeError):
        return ""
    return mid if isinstance(mid, str) else ""
