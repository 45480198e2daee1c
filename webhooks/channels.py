"""Platform channels: builds the configured adapters and mounts their webhook routes."""

from __future__ import annotations

import time
from functools import partial

import aiohttp
from aiohttp import web

from bot.dingtalk.adapter import DingtalkAdapter
from bot.inbound import UrlChallenge
from bot.ports import RawRequest
from bot.wecom.adapter import WecomAdapter
from webhooks.bootstrap import Services
from webhooks.keys import SERVICES
from webhooks.receive import receive
from webhooks.settings import Settings


async def setup_channels(services: Services, *, inbound: bool = True) -> None:
    """Create the adapters of the configured platforms; tests may have injected their own.
    Without ``inbound`` (the worker process) no DingTalk Stream connection is opened."""
    settings = services.settings
    if settings.wecom is None and settings.dingtalk is None:
        return
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
    services.closers.append(session.close)
    base = settings.http.public_base_url.rstrip("/")
    if settings.wecom is not None:
        adapter = WecomAdapter(
            settings.wecom, services.cache, session, clock=time.time, card_url=base
        )
        services.decoders["wecom"] = adapter
        services.platforms.setdefault("wecom", adapter)
    if settings.dingtalk is not None:
        ding = DingtalkAdapter(
            settings.dingtalk,
            services.cache,
            session,
            clock=time.time,
            card_callback_url="" if settings.dingtalk.stream else f"{base}/webhooks/dingtalk/card",
        )
        services.decoders["dingtalk"] = ding
        services.platforms.setdefault("dingtalk", ding)
        if settings.dingtalk.stream and inbound:
            from webhooks.stream import start_dingtalk_stream  # the SDK: 30 MB, when used

            start_dingtalk_stream(services, ding)


def _echo(challenge: UrlChallenge, raw: RawRequest) -> web.Response:
    return web.Response(text=challenge.echo, content_type="text/plain")


async def wecom_callback(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    adapter: WecomAdapter = services.decoders["wecom"]
    return await receive(
        request,
        platform="wecom",
        decoder=adapter,
        max_body=adapter.settings.max_body_bytes,
        on_challenge=_echo,
    )


async def dingtalk_callback(request: web.Request, *, which: str) -> web.Response:
    services = request.app[SERVICES]
    adapter: DingtalkAdapter = services.decoders["dingtalk"]
    decoder = {
        "robot": adapter.robot_decoder,
        "events": adapter.event_decoder,
        "card": adapter.card_decoder,
    }[which]

    def answer_check_url(challenge: UrlChallenge, raw: RawRequest) -> web.Response:
        body, content_type = decoder.ack_body(raw)
        return web.Response(body=body, content_type=content_type.split(";")[0])

    return await receive(
        request,
        platform="dingtalk",
        decoder=decoder,
        max_body=adapter.settings.max_body_bytes,
        on_challenge=answer_check_url,
    )


def add_channel_routes(app: web.Application, settings: Settings) -> None:
    """Mount /webhooks/... for the configured platforms."""
    if settings.wecom is not None:
        app.router.add_get("/webhooks/wecom", wecom_callback)
        app.router.add_post("/webhooks/wecom", wecom_callback)
    ding = settings.dingtalk
    if ding is not None and (not ding.stream or ding.stream_webhooks):
        for which in ("robot", "events", "card"):
            app.router.add_post(
                f"/webhooks/dingtalk/{which}", partial(dingtalk_callback, which=which)
            )
