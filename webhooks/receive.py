"""The one way a platform callback is received: cap, verify, decode, store, then ack."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web

from bot.inbound import CardAction, ChatMessage, UrlChallenge
from bot.ports import InboundDecoder, InboundRejected, RawRequest
from core.inputs import strip_nul
from core.people.ids import valid_user_id
from webhooks.bootstrap import Services
from webhooks.keys import SERVICES

log = logging.getLogger(__name__)

ChallengeAnswer = Callable[[UrlChallenge, RawRequest], web.Response]


async def read_capped(request: web.Request, limit: int) -> bytes | None:
    """The body, or None when it is larger than ``limit`` bytes (read no further than that)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(16384):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _reject(platform: str, status: int, reason: str, request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    services.metrics.inbound.labels(platform, "rejected").inc()
    log.info("%s callback refused (%s): %s", platform, status, reason)
    return web.json_response({"error": reason}, status=status)


def _without_nul(item: ChatMessage | CardAction) -> ChatMessage | CardAction:
    """PostgreSQL refuses NUL in text: a NUL in a message would make it unprocessable."""
    data = item.model_dump()
    clean = strip_nul(data)
    return item if clean == data else type(item).model_validate(clean)


def one_person(item: ChatMessage | CardAction) -> bool:
    return not item.user_id or valid_user_id(item.platform, item.user_id)


async def store_inbound(
    services: Services, platform: str, items: list[ChatMessage | CardAction]
) -> int:
    """The durable write every inbound item takes (HTTP callbacks and DingTalk Stream frames):
    the inbox row is committed when this returns; duplicates are counted, not stored. An item
    whose sender is not one person's id (``@all``, ``a|b``) is never stored."""
    items = [_without_nul(i) for i in items]
    bad = [i for i in items if not one_person(i)]
    if bad:
        log.warning("%s: %d item(s) with an invalid user id dropped", platform, len(bad))
        services.metrics.inbound.labels(platform, "rejected").inc(len(bad))
        items = [i for i in items if one_person(i)]
    new = await services.inbox_writer.store(items) if items else 0
    services.metrics.inbound.labels(platform, "stored").inc(new)
    if len(items) > new:
        services.metrics.inbound.labels(platform, "duplicate").inc(len(items) - new)
    if new:
        services.wake_inbox()
    return new


async def receive(
    request: web.Request,
    *,
    platform: str,
    decoder: InboundDecoder,
    max_body: int,
    on_challenge: ChallengeAnswer,
) -> web.Response:
    services = request.app[SERVICES]
    body = await read_capped(request, max_body)
    if body is None:
        return _reject(platform, 413, "body too large", request)
    method = request.method
    if method not in ("GET", "POST"):
        return _reject(platform, 405, "method not allowed", request)
    raw = RawRequest(
        method=method,  # type: ignore[arg-type]
        query={k: v for k, v in request.query.items()},
        headers={k.lower(): v for k, v in request.headers.items()},
        body=body,
    )
    try:
        decoded = decoder.decode(raw)
    except InboundRejected as exc:
        return _reject(platform, exc.status, exc.reason, request)
    if isinstance(decoded, UrlChallenge):
        return on_challenge(decoded, raw)
    if not all(one_person(i) for i in decoded):  # signed, yet not one person's id
        return _reject(platform, 400, "invalid user id", request)
    try:
        await store_inbound(services, platform, decoded)
    except TimeoutError:
        log.warning("%s callback not stored within the ack timeout; answered 503", platform)
        return web.json_response({"error": "temporarily unavailable"}, status=503)
    except Exception:
        log.exception("%s callback could not be stored; the platform will retry", platform)
        return web.json_response({"error": "temporarily unavailable"}, status=503)
    ack, content_type = decoder.ack_body(raw)
    return web.Response(body=ack, content_type=content_type.split(";")[0])
