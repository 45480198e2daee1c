"""How fast bad callbacks are refused, and that none of them stores anything.

Starts the real ``chatdesk serve`` (SQLite, workers off) and sends, one at a time, N requests
of each kind of bad input to the WeCom and DingTalk endpoints; prints the status codes seen and
p50/p99/max latency per kind, then checks that the inbox is still empty.

    .venv/bin/python bench/rejections.py [--n 200]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from callbacks import free_port, server
from loadgen import percentile
from payloads import (
    DING_APP_SECRET,
    WECOM_AES_KEY,
    WECOM_CORP_ID,
    WECOM_TOKEN,
    config_yaml,
    dingtalk_callbacks,
    robot_sign,
    wecom_callbacks,
)

from bot.tencent_crypto import TencentCrypto


def cases() -> dict[str, tuple[str, dict[str, str], bytes]]:
    """name -> (path with query, headers, body)."""
    good = wecom_callbacks("rej", 1)[0]
    crypto = TencentCrypto(WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORP_ID)
    ts, nonce = str(int(time.time())), "n"

    def wecom(
        enc: str, body: bytes | None = None, stale: bool = False
    ) -> tuple[str, dict[str, str], bytes]:
        t = str(int(time.time()) - 3600) if stale else ts
        q = f"/webhooks/wecom?msg_signature={crypto.signature(t, nonce, enc)}&timestamp={t}&nonce={nonce}"
        env = f"<xml><ToUserName>{WECOM_CORP_ID}</ToUserName><Encrypt><![CDATA[{enc}]]></Encrypt></xml>"
        return q, {"Content-Type": "text/xml"}, body if body is not None else env.encode()

    enc = crypto.encrypt("<xml><MsgType>text</MsgType><Content>x</Content><MsgId>1</MsgId></xml>")
    other = TencentCrypto(WECOM_TOKEN, WECOM_AES_KEY, "wwSomeoneElse0000").encrypt("<xml/>")
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;'
        b'&a;&a;&a;&a;">]><xml><Encrypt>&b;</Encrypt></xml>'
    )
    ding = dingtalk_callbacks("rej", 1)[0]
    stale_ms = str(int(time.time() * 1000) - 2 * 3600 * 1000)
    return {
        "wecom bad signature": (good.path_qs.replace("msg_signature=", "msg_signature=0"), good.headers, good.body),
        "wecom stale timestamp": wecom(enc, stale=True),
        "wecom wrong corp id": wecom(other),
        "wecom broken base64": wecom("%%%%"),
        "wecom billion laughs": wecom(enc, body=laughs),
        "wecom oversized body": wecom(enc, body=b"<xml>" + b"x" * 70_000 + b"</xml>"),
        "wecom missing query": ("/webhooks/wecom", good.headers, good.body),
        "dingtalk bad sign": (ding.path_qs, {**ding.headers, "sign": base64.b64encode(b"x" * 32).decode()}, ding.body),
        "dingtalk stale timestamp": (
            ding.path_qs, {**ding.headers, "timestamp": stale_ms, "sign": robot_sign(stale_ms, DING_APP_SECRET)}, ding.body
        ),
        "dingtalk malformed json": (ding.path_qs, ding.headers, b"{not json"),
    }  # fmt: skip


async def measure(base: str, n: int) -> list[tuple[str, dict[int, int], float, float, float]]:
    rows = []
    async with aiohttp.ClientSession() as session:
        for name, (path, headers, body) in cases().items():
            statuses: dict[int, int] = {}
            times: list[float] = []
            for _ in range(n):
                started = time.perf_counter()
                async with session.post(base + path, headers=headers, data=body) as r:
                    await r.read()
                times.append((time.perf_counter() - started) * 1000)
                statuses[r.status] = statuses.get(r.status, 0) + 1
            times.sort()
            rows.append(
                (
                    name,
                    statuses,
                    percentile(times, 0.5) or 0,
                    percentile(times, 0.99) or 0,
                    times[-1],
                )
            )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="requests of each kind (default 200)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db = work / "rej.db"
        port = free_port()
        cfg = work / "chatdesk.yaml"
        cfg.write_text(
            config_yaml(database_url=f"sqlite+aiosqlite:///{db}", port=port, dead_port=free_port())
        )
        base = f"http://127.0.0.1:{port}"
        cmd = [sys.executable, "-m", "webhooks", "serve", "--config", str(cfg)]
        with server(cmd, f"{base}/readyz", work / "server.log"):
            rows = asyncio.run(measure(base, max(1, min(args.n, 5000))))
        with sqlite3.connect(db) as conn:
            stored = conn.execute("select count(*) from inbox").fetchone()[0]
    print(f"{'case':28} {'statuses':18} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}")
    for name, statuses, p50, p99, worst in rows:
        codes = ",".join(f"{k}x{v}" for k, v in sorted(statuses.items()))
        print(f"{name:28} {codes:18} {p50:7.2f} {p99:7.2f} {worst:7.2f}")
    bad = [name for name, statuses, *_ in rows if any(not 400 <= s < 500 for s in statuses)]
    print(f"inbox rows stored: {stored} (expected 0)")
    print("every refusal a 4xx: " + ("yes" if not bad else f"NO: {', '.join(bad)}"))
    print(json.dumps({"p99_max_ms": round(max(r[3] for r in rows), 2)}))
    return 0 if stored == 0 and not bad else 1


if __name__ == "__main__":
    sys.exit(main())
