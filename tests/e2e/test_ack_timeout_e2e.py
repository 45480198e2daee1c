"""A callback whose durable write is stuck (a locked SQLite file) is answered 503 within the
ack timeout, in time for WeCom (5 s) to retry; the retry is stored once (issue #8 item 9)."""

from __future__ import annotations

import asyncio
import sqlite3
import time

from tests.e2e.test_wecom_e2e import AGENT_ID, SECRET, inbox_count, params, post, text_xml
from webhooks.app import create_app


async def test_a_locked_database_gets_a_503_in_time_then_the_retry_is_stored_once(
    aiohttp_client, make_settings, sqlite_url: str
) -> None:
    p = params()
    wecom = {
        "corp_id": p["corpid"], "agent_id": AGENT_ID, "secret": SECRET, "token": p["token"],
        "encoding_aes_key": p["encoding_aes_key"], "api_base": "http://127.0.0.1:9",
    }  # fmt: skip
    settings = make_settings(
        "",
        database_url=sqlite_url,
        wecom=wecom,
        http={"ack_timeout_s": 1.0},
        workers={"run": False},
    )
    client = await aiohttp_client(create_app(settings))
    assert (await post(client, text_xml("kehu", "帮助", "m-warm"))).status == 200

    path = sqlite_url.removeprefix("sqlite+aiosqlite:///")
    holder = sqlite3.connect(path, timeout=0, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        started = time.monotonic()
        r = await post(client, text_xml("kehu", "报修 漏油", "m-locked"))
        waited = time.monotonic() - started
        assert r.status == 503 and "Traceback" not in await r.text()
        assert waited < 4.5, f"answered after {waited:.1f}s, past WeCom's 5 s"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    await asyncio.sleep(0.2)
    assert (await post(client, text_xml("kehu", "报修 漏油", "m-locked"))).status == 200
    await asyncio.sleep(0.2)
    assert await inbox_count(client.app) == 2  # the warm-up and the retried one, once
