"""The Stream handlers: each frame decoded by the DingTalk adapter into the same items as an HTTP
callback and written to the inbox before the SDK acknowledges it (reference/dingtalk.md §2).

Subclasses of the official SDK's ``CallbackHandler`` and ``EventHandler``: ``raw_process`` builds
the SDK's ``AckMessage``. A refused (malformed) frame answers 400; a failed write answers 500
(events: ``status: LATER``) so that the gateway delivers the frame again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from dingtalk_stream import (
    AckMessage,
    CallbackHandler,
    CallbackMessage,
    EventHandler,
    EventMessage,
)
from dingtalk_stream.frames import Headers

from bot.dingtalk.adapter import DingtalkAdapter
from bot.inbound import CardAction, ChatMessage
from bot.ports import InboundRejected

if TYPE_CHECKING:
    from bot.dingtalk.stream import StreamState

log = logging.getLogger("bot.dingtalk.stream")

EVENT_TOPIC = "*"
Items = list[ChatMessage | CardAction]
Store = Callable[[Items], Awaitable[int]]


class StreamObserver(Protocol):
    def state_changed(self, state: StreamState) -> None: ...
    def frame(self, topic: str, outcome: str) -> None: ...


class Quiet:
    def state_changed(self, state: StreamState) -> None:
        pass

    def frame(self, topic: str, outcome: str) -> None:
        pass


def ack_frame(message_id: str | None, code: int, message: str, data: Any) -> AckMessage:
    ack = AckMessage()
    ack.code = code
    ack.headers.message_id = message_id
    ack.headers.content_type = Headers.CONTENT_TYPE_APPLICATION_JSON
    ack.message = message
    ack.data = data
    return ack


class Durable:
    """Decode, store, and say how it went: (code, message) for the acknowledgement."""

    def __init__(self, store: Store, observer: StreamObserver) -> None:
        self.store = store
        self.observer = observer

    async def handle(self, topic: str, decode: Callable[[], Items]) -> tuple[int, str]:
        try:
            items = decode()
        except InboundRejected as exc:
            log.info("stream frame on %s refused: %s", topic, exc.reason)
            self.observer.frame(topic, "rejected")
            return AckMessage.STATUS_BAD_REQUEST, exc.reason
        try:
            new = await self.store(items)
        except Exception:
            log.exception("stream frame on %s could not be stored; the gateway will retry", topic)
            self.observer.frame(topic, "failed")
            return AckMessage.STATUS_SYSTEM_EXCEPTION, "internal error"
        self.observer.frame(topic, "stored" if new or not items else "duplicate")
        return AckMessage.STATUS_OK, "OK"


class DurableCallbackHandler(CallbackHandler):
    """Robot messages and card clicks: the ack's data is ``{"response": {}}`` (§2 step 4); a
    click's card update still goes through the card API from the inbox worker, as over HTTP."""

    def __init__(self, topic: str, decode: Callable[[dict[str, Any]], Items], durable: Durable):
        super().__init__()
        self.topic = topic
        self._decode = decode
        self._durable = durable

    async def process(self, message: CallbackMessage) -> tuple[int, str]:
        data = message.data

        def decode() -> Items:
            if not isinstance(data, dict):
                raise InboundRejected("frame data is not a JSON object")
            return self._decode(data)

        return await self._durable.handle(self.topic, decode)

    async def raw_process(self, callback_message: CallbackMessage) -> AckMessage:
        code, message = await self.process(callback_message)
        return ack_frame(callback_message.headers.message_id, code, message, {"response": {}})


class DurableEventHandler(EventHandler):
    """Events: the ack's data says ``SUCCESS`` or ``LATER`` (redeliver), as the protocol asks
    (the SDK's base echoes the event instead)."""

    def __init__(self, adapter: DingtalkAdapter, durable: Durable) -> None:
        super().__init__()
        self._adapter = adapter
        self._durable = durable

    async def process(self, event: EventMessage) -> tuple[int, str]:
        h, data = event.headers, event.data

        def decode() -> Items:
            if not isinstance(data, dict):
                raise InboundRejected("event data is not a JSON object")
            return list(
                self._adapter.stream_event_items(
                    h.event_type or "", h.event_id or "", h.event_born_time, data
                )
            )

        return await self._durable.handle(EVENT_TOPIC, decode)

    async def raw_process(self, event_message: EventMessage) -> AckMessage:
        code, message = await self.process(event_message)
        # A refused (malformed) event is not worth redelivering; a failed write is.
        status = "LATER" if code >= AckMessage.STATUS_SYSTEM_EXCEPTION else "SUCCESS"
        return ack_frame(
            event_message.headers.message_id, code, message, {"status": status, "message": message}
        )
