"""Fake WeCom and DingTalk API servers for the benchmark, in a process of their own.

The fakes are the test suite's (tests/fakes/), with the benchmark's credentials. Every
message/send the fake WeCom accepts is recorded with its arrival time on ``time.monotonic()``
(one clock for every process on the machine), so the benchmark can time a reply from the
callback's scheduled send time. Read them with ``GET {wecom}/__bench/sent?since=N``: a JSON
object ``{"total": n, "sent": [[t, touser, msgtype, text], ...]}``. The WeCom token is fixed,
so one cached by an earlier run (in Redis) stays valid.

Prints one JSON line ``{"wecom": URL, "dingtalk": URL}`` when both listen; runs until killed.

    python bench/fake_platforms.py
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

from aiohttp import web

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from payloads import (  # noqa: E402
    DING_APP_KEY,
    DING_APP_SECRET,
    WECOM_AGENT_ID,
    WECOM_CORP_ID,
    WECOM_SECRET,
)

from tests.fakes.dingtalk_api import FakeDingtalk  # noqa: E402
from tests.fakes.wecom_api import FakeWecom  # noqa: E402

TOKEN = "bench-fixed-wecom-token"
Sent = tuple[float, str, str, str]


def summary(body: Any) -> tuple[str, str, str]:
    """(touser, msgtype, the text or the card's title and task id) of one message/send."""
    if not isinstance(body, dict):
        return "", "", ""
    kind = str(body.get("msgtype", ""))
    payload = body.get(kind) if isinstance(body.get(kind), dict) else {}
    if kind == "template_card":
        title = (payload.get("main_title") or {}).get("title", "")
        text = f"{title} [{payload.get('task_id', '')}]"
    else:
        text = str(payload.get("content", ""))
    return str(body.get("touser", "")), kind, text[:300]


def recording_app(fake: FakeWecom, sent: list[Sent]) -> web.Application:
    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        arrived = time.monotonic()
        accepted = len(fake._accepted)
        response = await handler(request)
        if request.path.endswith("/message/send") and len(fake._accepted) > accepted:
            sent.append((arrived, *summary(fake._accepted[-1].json)))
        return response

    async def read(request: web.Request) -> web.Response:
        since = max(0, int(request.query.get("since", "0") or 0))
        return web.json_response({"total": len(sent), "sent": sent[since:]})

    app = fake.app()
    app.middlewares.append(record)
    app.router.add_get("/__bench/sent", read)
    return app


async def main() -> None:
    fake = FakeWecom(
        corp_id=WECOM_CORP_ID, secret=WECOM_SECRET, agent_id=WECOM_AGENT_ID, _token=TOKEN
    )
    sent: list[Sent] = []
    runner = web.AppRunner(recording_app(fake, sent), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    ding = await FakeDingtalk(app_key=DING_APP_KEY, app_secret=DING_APP_SECRET).start()
    port = runner.addresses[0][1]
    print(json.dumps({"wecom": f"http://127.0.0.1:{port}", "dingtalk": ding.base_url}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await ding.close()
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
