"""DingTalk behind the two ports: ChatPlatform (outbound) and three InboundDecoders.

DingTalk calls us on three URLs with three different trust schemes, so the adapter has three
decoders (``robot_decoder``, ``event_decoder``, ``card_decoder``), each an InboundDecoder, and
the matching ``decode_*`` / ``*_ack_body`` methods for the webhook to call directly.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

import aiohttp

from bot.dingtalk import crypto, parse
from bot.dingtalk.client import DingtalkClient
from bot.dingtalk.render import (
    DEFAULT_ROUTE_KEY,
    Mode,
    callback_response,
    render_send,
    render_update,
)
from bot.dingtalk.settings import DingtalkSettings
from bot.inbound import CardAction, ChatMessage, UrlChallenge
from bot.ports import InboundRejected, Permanent, RawRequest, Receipt, Target
from cards.model import Card
from core.cache import Cache

JSON = "application/json; charset=utf-8"
ROBOT_ACK = b'{"msgtype":"empty"}'


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class _Decoder:
    """One of the three inbound endpoints as an InboundDecoder."""

    name = "dingtalk"

    def __init__(
        self,
        decode: Callable[
            [RawRequest],
            list[ChatMessage] | list[CardAction] | list[ChatMessage | CardAction] | UrlChallenge,
        ],
        ack: Callable[[], bytes],
    ) -> None:
        self._decode = decode
        self._ack = ack

    def decode(self, raw: RawRequest) -> list[ChatMessage | CardAction] | UrlChallenge:
        result = self._decode(raw)
        return result if isinstance(result, UrlChallenge) else list(result)

    def ack_body(self, raw: RawRequest) -> tuple[bytes, str]:
        return self._ack(), JSON


class DingtalkAdapter:
    name = "dingtalk"

    def __init__(
        self,
        settings: DingtalkSettings,
        cache: Cache,
        session: aiohttp.ClientSession,
        *,
        clock: Callable[[], float] = time.time,
        card_callback_url: str = "",
        card_route_key: str = DEFAULT_ROUTE_KEY,
        extra_owner_keys: Iterable[str] = (),
        random_bytes: Callable[[int], bytes] = os.urandom,
        nonce_factory: Callable[[], str] = crypto.random_nonce,
    ) -> None:
        self.settings = settings
        self.client = DingtalkClient(settings, cache, session)
        self._clock = clock
        self._callback_url = card_callback_url
        self._route_key = card_route_key
        token = settings.event_token.get_secret_value()
        aes_key = settings.event_aes_key.get_secret_value()
        self._events: crypto.EventCrypto | None = None
        if token and aes_key:
            self._events = crypto.EventCrypto(
                token,
                aes_key,
                settings.app_key,
                extra_owner_keys=extra_owner_keys,
                random_bytes=random_bytes,
                nonce_factory=nonce_factory,
                clock=clock,
            )
        self.robot_decoder = _Decoder(self.decode_robot, self.robot_ack_body)
        self.event_decoder = _Decoder(self.decode_event, self.event_ack_body)
        self.card_decoder = _Decoder(self.decode_card, lambda: self.card_ack_body(None))

    # --- inbound ------------------------------------------------------------------------------

    def _body(self, raw: RawRequest) -> dict[str, Any]:
        if raw.method != "POST":
            raise InboundRejected("only POST is accepted", status=405)
        if len(raw.body) > self.settings.max_body_bytes:
            raise InboundRejected("body too large", status=413)
        try:
            return parse.loads_object(raw.body)
        except parse.ParseError as exc:
            raise InboundRejected(str(exc)) from exc

    def decode_robot(self, raw: RawRequest) -> list[ChatMessage]:
        """Robot HTTP callback: ``timestamp`` + ``sign`` headers, then the message JSON."""
        if len(raw.body) > self.settings.max_body_bytes:
            raise InboundRejected("body too large", status=413)
        try:
            crypto.verify_robot_sign(
                raw.headers.get("timestamp", ""),
                raw.headers.get("sign", ""),
                self.settings.app_secret.get_secret_value(),
                tolerance_s=self.settings.robot_timestamp_tolerance_s,
                clock=self._clock,
            )
        except crypto.SignatureError as exc:
            raise InboundRejected(exc.reason, status=401) from exc
        return self.robot_items(self._body(raw))

    def robot_items(self, body: dict[str, Any]) -> list[ChatMessage]:
        """A robot message body, from an HTTP callback or a Stream frame (already trusted)."""
        try:
            return parse.parse_robot_message(body)
        except parse.ParseError as exc:
            raise InboundRejected(str(exc)) from exc

    def stream_event_items(
        self, event_type: str, event_id: str, born_ms: Any, data: dict[str, Any]
    ) -> list[ChatMessage]:
        """An event from a Stream frame: type and id from its headers, the body from its data."""
        try:
            return [parse.parse_stream_event(event_type, event_id, born_ms, data)]
        except parse.ParseError as exc:
            raise InboundRejected(str(exc)) from exc

    def _event_crypto(self) -> crypto.EventCrypto:
        if self._events is None:
            raise InboundRejected("event subscription is not configured", status=404)
        return self._events

    def _check_event_time(self, timestamp: str) -> None:
        # ⚠ seen as seconds and as milliseconds (§3.1): 13 digits are ms.
        if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 16:
            raise InboundRejected("bad event timestamp", status=401)
        ts = int(timestamp)
        seconds = ts / 1000 if ts >= 10**11 else ts
        if abs(self._clock() - seconds) > self.settings.event_timestamp_tolerance_s:
            raise InboundRejected("stale event timestamp", status=401)

    def decode_event(self, raw: RawRequest) -> list[ChatMessage] | UrlChallenge:
        """Encrypted event subscription: verify the SHA1 signature, decrypt, parse."""
        events = self._event_crypto()
        body = self._body(raw)
        q = raw.query
        signature = q.get("msg_signature") or q.get("signature") or ""
        timestamp = q.get("timeStamp") or q.get("timestamp") or ""
        nonce = q.get("nonce") or ""
        encrypted = body.get("encrypt")
        if not isinstance(encrypted, str) or not encrypted:
            raise InboundRejected("event body without encrypt")
        try:
            events.verify(signature, timestamp, nonce, encrypted)
        except crypto.SignatureError as exc:
            raise InboundRejected(exc.reason, status=401) from exc
        self._check_event_time(timestamp)
        try:
            plaintext = events.decrypt(encrypted)
        except crypto.SignatureError as exc:
            raise InboundRejected(exc.reason, status=400) from exc
        try:
            result = parse.parse_event(plaintext)
        except parse.ParseError as exc:
            raise InboundRejected(str(exc)) from exc
        return result if isinstance(result, UrlChallenge) else [result]

    def decode_card(self, raw: RawRequest) -> list[CardAction]:
        """Card button callback: refused unless its ``x-ddpaas-signature`` checks (§6.4)."""
        if len(raw.body) > self.settings.max_body_bytes:
            raise InboundRejected("body too large", status=413)
        secret = self.settings.card_callback_secret.get_secret_value()
        if not secret:
            raise InboundRejected("card callbacks are refused: no card_callback_secret", status=401)
        try:
            crypto.verify_card_signature(
                raw.headers.get("x-ddpaas-signature-timestamp", ""),
                raw.headers.get("x-ddpaas-signature", ""),
                secret,
                tolerance_s=self.settings.robot_timestamp_tolerance_s,
                clock=self._clock,
            )
        except crypto.SignatureError as exc:
            raise InboundRejected(exc.reason, status=401) from exc
        return self.card_items(self._body(raw))

    def card_items(self, body: dict[str, Any]) -> list[CardAction]:
        """A card click body, from an HTTP callback or a Stream frame (already trusted)."""
        try:
            return [parse.parse_card_callback(body)]
        except parse.ParseError as exc:
            raise InboundRejected(str(exc)) from exc

    def robot_ack_body(self) -> bytes:
        return ROBOT_ACK

    def event_ack_body(self) -> bytes:
        """The encrypted ``success`` (§3.3), fresh nonce and random prefix each time."""
        return self._event_crypto().reply_json("success")

    def card_ack_body(self, card: Card | None = None) -> bytes:
        """The synchronous card update (§6.4) when the outcome is known, else an empty success."""
        return _dumps(callback_response(card)) if card is not None else b"{}"

    # --- outbound -----------------------------------------------------------------------------

    async def fetch_media(self, download_code: str) -> tuple[bytes, str]:
        """A picture or file a person sent, by its download code (the type is sniffed later)."""
        return await self.client.download_file(download_code), ""

    async def send_text(self, target: Target, text: str) -> Receipt:
        if target.conversation_id:
            data = await self.client.send_group(
                target.conversation_id, "sampleText", {"content": text}
            )
        elif target.user_id:
            data = await self.client.send_oto([target.user_id], "sampleText", {"content": text})
        else:
            raise Permanent("target has neither user nor conversation", code="target")
        return Receipt(
            platform=self.name, target=target, message_id=str(data.get("processQueryKey", ""))
        )

    def _mode(self) -> Mode:
        return "template" if self.settings.card_template_id else "standard"

    async def send_card(self, target: Target, card: Card) -> Receipt:
        try:
            call = render_send(
                card,
                target,
                robot_code=self.settings.effective_robot_code,
                template_id=self.settings.card_template_id,
                callback_url=self._callback_url,
                route_key=self._route_key,
                stream=self.settings.stream,
            )
        except ValueError as exc:
            raise Permanent(str(exc), code="target") from exc
        data = await self.client.card_call(call)
        result = data.get("result")
        key = data.get("processQueryKey") or (
            result.get("processQueryKey") if isinstance(result, dict) else ""
        )
        return Receipt(
            platform=self.name,
            target=target,
            card_key=card.key,
            message_id=str(key or ""),
            extra={"mode": call.mode},
        )

    async def update_card(self, receipt: Receipt, card: Card) -> Receipt:
        key = receipt.card_key or card.key
        if key != card.key:
            card = card.model_copy(update={"key": key})
        mode = receipt.extra.get("mode")
        call = render_update(
            card, receipt.target, mode=mode if mode in ("standard", "template") else self._mode()
        )
        await self.client.card_call(call)
        return receipt.model_copy(
            update={"card_key": key, "extra": {**receipt.extra, "mode": call.mode}}
        )
