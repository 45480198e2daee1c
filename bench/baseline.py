"""The two baselines, each a tiny aiohttp server on 127.0.0.1 (run as its own process).

``bare``:     read the body, answer 200 — what aiohttp itself costs.
``pipeline``: the same steps as webhooks.receive.receive() — capped read, RawRequest, the
              real adapters' decode() (verify + decrypt + parse) and ack body — but no
              durable write, no middlewares, no metrics.
``reply``:    ``pipeline``, then (after the ack, in a task) the customer's 帮助 text sent
              through the real adapter to the platform API the config names (a fake): what
              answering costs without a database.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

import aiohttp
from aiohttp import web
from payloads import DINGTALK_PATH, WECOM_PATH

from bot.dingtalk.adapter import DingtalkAdapter
from bot.inbound import ChatMessage
from bot.intents import help_text
from bot.ports import ChatPlatform, InboundDecoder, InboundRejected, RawRequest, Target
from bot.wecom.adapter import WecomAdapter
from core.cache import make_cache
from core.messages import Actor, Channel
from webhooks.receive import read_capped
from webhooks.settings import load_settings


def bare_app() -> web.Application:
    async def ok(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=b"", content_type="text/plain")

    app = web.Application()
    app.router.add_post(WECOM_PATH, ok)
    app.router.add_post(DINGTALK_PATH, ok)
    return app


def pipeline_app(config: str, *, reply: bool = False) -> web.Application:
    settings = load_settings(config)
    assert settings.wecom is not None and settings.dingtalk is not None
    app = web.Application()

    decoders: dict[str, tuple[InboundDecoder, int]] = {}
    senders: dict[str, ChatPlatform] = {}
    replies: set[asyncio.Task[object]] = set()
    customer = Actor(person_id="", name="客户", channel=Channel.WECOM)

    def answer(platform: str, message: object) -> None:
        if not reply or not isinstance(message, ChatMessage):
            return
        target = Target(platform=platform, user_id=message.user_id)
        task = asyncio.create_task(senders[platform].send_text(target, help_text(customer)))
        replies.add(task)
        task.add_done_callback(replies.discard)

    def handler(platform: str):  # type: ignore[no-untyped-def]
        async def handle(request: web.Request) -> web.Response:
            decoder, max_body = decoders[platform]
            body = await read_capped(request, max_body)
            if body is None:
                return web.json_response({"error": "body too large"}, status=413)
            raw = RawRequest(
                method=request.method,  # type: ignore[arg-type]
                query={k: v for k, v in request.query.items()},
                headers={k.lower(): v for k, v in request.headers.items()},
                body=body,
            )
            try:
                decoded = decoder.decode(raw)
            except InboundRejected as exc:
                return web.json_response({"error": exc.reason}, status=exc.status)
            if not isinstance(decoded, list) or len(decoded) != 1:
                return web.json_response({"error": "unexpected"}, status=500)
            ack, content_type = decoder.ack_body(raw)
            answer(platform, decoded[0])
            return web.Response(body=ack, content_type=content_type.split(";")[0])

        return handle

    async def adapters(app: web.Application):  # type: ignore[no-untyped-def]
        assert settings.wecom is not None and settings.dingtalk is not None
        session = aiohttp.ClientSession()
        cache = make_cache("")
        wecom = WecomAdapter(settings.wecom, cache, session, clock=time.time)
        ding = DingtalkAdapter(settings.dingtalk, cache, session, clock=time.time)
        decoders["wecom"] = (wecom, settings.wecom.max_body_bytes)
        decoders["dingtalk"] = (ding.robot_decoder, settings.dingtalk.max_body_bytes)
        senders.update(wecom=wecom, dingtalk=ding)
        yield
        await session.close()

    app.router.add_post(WECOM_PATH, handler("wecom"))
    app.router.add_post(DINGTALK_PATH, handler("dingtalk"))
    app.cleanup_ctx.append(adapters)
    return app


async def ready(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("mode", choices=("bare", "pipeline", "reply"))
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--config", help="the chatdesk config (pipeline mode)")
    args = p.parse_args()
    if args.mode == "bare":
        app = bare_app()
    else:
        app = pipeline_app(args.config, reply=args.mode == "reply")
    app.router.add_get("/__ready", ready)
    print(f"baseline {args.mode} serving on 127.0.0.1:{args.port}", flush=True)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
