"""WecomAdapter: the WeCom side of both ports (InboundDecoder and ChatPlatform)."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from bot.inbound import CardAction, ChatMessage, UrlChallenge
from bot.ports import (
    AuthExpired,
    InboundRejected,
    Permanent,
    RawRequest,
    Receipt,
    Retryable,
    Target,
)
from bot.tencent_crypto import CryptoError, ReceiveIdError, SignatureError, XmlError
from bot.wecom.client import WecomClient
from bot.wecom.crypto import WecomCrypto
from bot.wecom.parse import parse_message
from bot.wecom.render import (
    MAX_TASK_ID_BYTES,
    MAX_TEXT_BYTES,
    card_as_text,
    render_card,
    render_update,
)
from bot.wecom.settings import WecomSettings
from cards.model import Card
from core.cache import Cache
from core.inputs import ascii_int

log = logging.getLogger(__name__)

PLATFORM = "wecom"
RESPONSE_CODE_TTL_S = 72 * 3600  # current docs; older copies say 24 h (spec §3.3 CONFLICT)


def split_utf8(text: str, limit: int = MAX_TEXT_BYTES) -> list[str]:
    """Chunks of at most ``limit`` UTF-8 bytes, never splitting a character."""
    if len(text) * 4 <= limit or len(text.encode()) <= limit:  # one chunk: the usual case
        return [text] if text else []
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for ch in text:
        n = len(ch.encode("utf-8"))
        if size + n > limit:
            chunks.append("".join(current))
            current, size = [], 0
        current.append(ch)
        size += n
    if current:
        chunks.append("".join(current))
    return chunks


def _required(query: Mapping[str, str], names: tuple[str, ...]) -> list[str]:
    values = []
    for name in names:
        value = query.get(name)
        if not isinstance(value, str) or not value:
            raise InboundRejected(f"missing query parameter: {name}", status=400)
        values.append(value)
    return values


def _rejection(exc: CryptoError) -> InboundRejected:
    if isinstance(exc, SignatureError):
        return InboundRejected("bad signature", status=401)
    if isinstance(exc, ReceiveIdError):
        return InboundRejected("wrong corp id", status=403)
    if isinstance(exc, XmlError):
        return InboundRejected("malformed or forbidden XML", status=400)
    return InboundRejected(f"cannot decrypt (code {exc.code})", status=400)


class WecomAdapter:
    name = PLATFORM

    def __init__(
        self,
        settings: WecomSettings,
        cache: Cache,
        session: aiohttp.ClientSession,
        *,
        clock: Callable[[], float] = time.time,
        card_url: str = "",
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.settings = settings
        self._cache = cache
        self._clock = clock
        self._card_url = card_url  # link for text_notice cards that carry no URL of their own
        self.crypto = WecomCrypto(
            settings.token.get_secret_value(),
            settings.encoding_aes_key.get_secret_value(),
            settings.corp_id,
            random_bytes=random_bytes,
        )
        self.client = WecomClient(settings, cache, session)

    # -- InboundDecoder -----------------------------------------------------------------------

    def decode(self, raw: RawRequest) -> list[ChatMessage | CardAction] | UrlChallenge:
        if len(raw.body) > self.settings.max_body_bytes:
            raise InboundRejected("body too large", status=413)
        if raw.method == "GET":
            sig, ts, nonce, echostr = _required(
                raw.query, ("msg_signature", "timestamp", "nonce", "echostr")
            )
            self._check_timestamp(ts)
            try:
                echo = self.crypto.verify_url(sig, ts, nonce, echostr)
            except CryptoError as exc:
                raise _rejection(exc) from None
            try:
                return UrlChallenge(platform=PLATFORM, echo=echo.decode("utf-8"))
            except UnicodeDecodeError:
                raise InboundRejected("echostr is not UTF-8", status=400) from None
        sig, ts, nonce = _required(raw.query, ("msg_signature", "timestamp", "nonce"))
        self._check_timestamp(ts)
        if not raw.body:
            raise InboundRejected("empty body", status=400)
        try:
            xml = self.crypto.open_envelope(raw.body, sig, ts, nonce)
            return [parse_message(xml)]
        except CryptoError as exc:
            raise _rejection(exc) from None

    def _check_timestamp(self, timestamp: str) -> None:
        seconds = ascii_int(timestamp, hi=10**12)
        if seconds is None:
            raise InboundRejected("timestamp is not a number", status=400)
        if abs(self._clock() - seconds) > self.settings.timestamp_tolerance_s:
            raise InboundRejected("stale timestamp", status=401)

    def ack_body(self, raw: RawRequest) -> tuple[bytes, str]:
        return b"", "text/plain"

    # -- ChatPlatform -------------------------------------------------------------------------

    @staticmethod
    def _user(target: Target) -> str:
        if not target.user_id:
            raise Permanent("企业微信应用消息需要 user_id（不支持群会话目标）")
        return target.user_id

    async def send_text(self, target: Target, text: str) -> Receipt:
        user = self._user(target)
        if not text.strip():
            raise Permanent("empty text", code=44004)
        ids: list[str] = []
        for chunk in split_utf8(text):
            answer = await self.client.send_text(user, chunk)
            ids.append(str(answer.get("msgid", "")))
        extra: dict[str, Any] = {"msgid": ids[-1]}
        if len(ids) > 1:
            extra["msgids"] = ids
        return Receipt(platform=PLATFORM, target=target, message_id=ids[-1], extra=extra)

    async def fetch_media(self, media_id: str) -> tuple[bytes, str]:
        """A photo, voice or file a person sent (media/get), with its declared content type."""
        return await self.client.get_media(media_id)

    async def send_card(self, target: Target, card: Card) -> Receipt:
        return await self._send_card(target, card, task_id=card.key)

    async def _send_card(self, target: Target, card: Card, *, task_id: str) -> Receipt:
        user = self._user(target)
        try:
            payload = render_card(card, task_id=task_id, fallback_url=self._card_url)
        except ValueError as exc:
            if card.buttons or card.url or self._card_url:
                raise Permanent(f"card cannot be rendered for WeCom: {exc}") from None
            # A finished card without any link cannot be a text_notice: send it as text.
            receipt = await self.send_text(target, card_as_text(card))
            return receipt.model_copy(
                update={"card_key": card.key, "extra": {**receipt.extra, "as_text": True}}
            )
        answer = await self.client.send_template_card(user, payload)
        msgid = str(answer.get("msgid", ""))
        code = str(answer.get("response_code") or "")
        extra: dict[str, Any] = {"msgid": msgid, "task_id": task_id}
        if code:
            extra["response_code_at"] = self._clock()
        return Receipt(
            platform=PLATFORM,
            target=target,
            card_key=card.key,
            message_id=msgid,
            response_code=code,
            extra=extra,
        )

    def _code_expired(self, receipt: Receipt) -> bool:
        issued = receipt.extra.get("response_code_at")
        if not isinstance(issued, int | float):
            return False
        return self._clock() - float(issued) > RESPONSE_CODE_TTL_S

    async def update_card(self, receipt: Receipt, card: Card) -> Receipt:
        """Update in place with the stored response_code; when it is missing, spent or
        refused, send a fresh card (new task_id) and return its receipt."""
        user = self._user(receipt.target)
        code = receipt.response_code
        task_id = str(receipt.extra.get("task_id") or card.key)
        if code and not self._code_expired(receipt):
            claim = "wecom:rc:" + hashlib.sha256(code.encode("utf-8")).hexdigest()
            if await self._cache.add_if_absent(claim, RESPONSE_CODE_TTL_S):
                try:
                    payload = render_update(card, task_id=task_id, fallback_url=self._card_url)
                    await self.client.update_template_card([user], code, payload)
                except ValueError as exc:
                    await self._cache.delete(claim)
                    raise Permanent(f"card cannot be rendered for WeCom: {exc}") from None
                except (Retryable, AuthExpired):
                    await self._cache.delete(claim)  # may not have reached WeCom: keep usable
                    raise
                except Permanent as exc:
                    log.info(
                        "update_template_card refused (errcode %s); sending a new card", exc.code
                    )
                else:
                    extra = {**receipt.extra, "updated_at": self._clock()}
                    extra.pop("response_code_at", None)
                    return receipt.model_copy(
                        update={"response_code": "", "card_key": card.key, "extra": extra}
                    )
        return await self._send_fresh(receipt, card)

    async def _send_fresh(self, receipt: Receipt, card: Card) -> Receipt:
        # task_id must be unique per app (§5.5): suffix it; parse.py strips "@r<hex>" again.
        task_id = f"{card.key}@r{int(self._clock() * 1000):x}"
        if len(task_id.encode("utf-8")) > MAX_TASK_ID_BYTES:
            raise Permanent("card key too long to derive a fresh WeCom task_id")
        fresh = await self._send_card(receipt.target, card, task_id=task_id)
        extra = {**fresh.extra, "replaces": receipt.message_id}
        return fresh.model_copy(update={"extra": extra})
