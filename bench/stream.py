"""DingTalk Stream ack benchmark: robot-message frames into the real `chatdesk serve`.

The real server runs in its own process in Stream mode (inbox worker off, so only the ack path
is measured: frame -> SDK handler -> adapter decode -> durable inbox write -> ack). The fake
gateway (tests/fakes/dingtalk_stream.py) runs in this process and pushes frames open-loop at
fixed rates; latency counts from the scheduled push time to the ack's arrival. After each run
the inbox must hold exactly the frames, each once.

    python bench/stream.py [--duration 10] [--rates 300,1000,2000]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fakes.dingtalk_stream import FakeStreamGateway, Push, start_fake_gateway  # noqa: E402

APP_KEY, APP_SECRET = "dingbenchappkey", "bench-app-secret-0123456789"
_seq = itertools.count(1)


def config(db: Path, gateway: str) -> str:
    return f"""
database_url: "sqlite+aiosqlite:///{db}"
sandbox: "off"
http: {{host: 127.0.0.1, port: 0}}
log_level: WARNING
workers: {{run: false}}
dingtalk:
  app_key: {APP_KEY}
  app_secret: "{APP_SECRET}"
  mode: stream
  card_template_id: bench.schema
  stream_gateway: "{gateway}"
"""


def frame(tag: str) -> dict[str, object]:
    n = next(_seq)
    return {
        "msgId": f"bench-{tag}-{n}", "createAt": int(time.time() * 1000), "conversationType": "1",
        "conversationId": f"cid{n}", "senderId": f"$:LWCP_v1:$u{n}", "senderStaffId": f"u{n % 500}",
        "senderNick": "客户", "chatbotUserId": "$:LWCP_v1:$robot", "robotCode": APP_KEY,
        "msgtype": "text", "text": {"content": f"报修 A-1024 注塑机漏油 {n}"},
    }  # fmt: skip


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


async def run_rate(gw: FakeStreamGateway, rate: float, duration: float, tag: str) -> dict:
    loop = asyncio.get_running_loop()
    n = int(rate * duration)
    start = loop.time() + 0.2
    scheduled: list[tuple[float, Push]] = []
    for i in range(n):
        at = start + i / rate
        delay = at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        push = await gw.push_robot(frame(tag))
        scheduled.append((at - loop.time() + time.monotonic(), push))
    deadline = time.monotonic() + 30
    while not all(p.done for _, p in scheduled) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    done = [(t, p) for t, p in scheduled if p.done]
    lat = sorted((p.done_at - t) * 1000 for t, p in done)
    last = max((p.done_at for _, p in done), default=time.monotonic())
    return {
        "offered": rate,
        "frames": n,
        "acked": len(done),
        "acked_per_s": len(done) / max(1e-9, last - scheduled[0][0]) if done else 0.0,
        "p50_ms": pct(lat, 0.5),
        "p99_ms": pct(lat, 0.99),
        "redelivered": sum(len(p.deliveries) - 1 for _, p in scheduled),
    }


async def main_async(args: argparse.Namespace, work: Path, log: IO[bytes]) -> int:
    gw = await start_fake_gateway(client_id=APP_KEY, client_secret=APP_SECRET, redeliver_after=60.0)
    db = work / "bench.db"
    cfg = work / "chatdesk.yaml"
    cfg.write_text(config(db, gw.base_url), encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "webhooks", "serve", "--config", str(cfg),
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not gw.conns:
            if time.monotonic() > deadline or proc.returncode is not None:
                print(f"the server did not connect; see {work / 'serve.log'}", file=sys.stderr)
                return 1
            await asyncio.sleep(0.1)
        await run_rate(gw, 50, 1.0, "warm")  # warm up
        print("rate/s  frames  acked  acked/s  p50 ms  p99 ms  redelivered  inbox check")
        for rate in args.rates:
            tag = f"r{int(rate)}"
            r = await run_rate(gw, rate, args.duration, tag)
            with sqlite3.connect(db) as conn:
                rows = conn.execute(
                    "SELECT count(*), count(DISTINCT dedupe_key) FROM inbox WHERE dedupe_key LIKE ?",
                    (f"dingtalk:msg:bench-{tag}-%",),
                ).fetchone()
            check = "ok" if rows == (r["acked"], r["acked"]) else f"MISMATCH {rows}"
            print(
                f"{rate:6.0f}  {r['frames']:6d}  {r['acked']:5d}  {r['acked_per_s']:7.0f}  "
                f"{r['p50_ms']:6.1f}  {r['p99_ms']:6.1f}  {r['redelivered']:11d}  {check}"
            )
        print(f"ack problems reported by the gateway: {len(gw.ack_problems)}")
        return 0
    finally:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
        await gw.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument(
        "--rates", type=lambda s: [float(x) for x in s.split(",")], default=[300.0, 1000.0, 2000.0]
    )
    work = Path(tempfile.mkdtemp(prefix="chatdesk-stream-bench-"))
    with open(work / "serve.log", "wb") as log:
        return asyncio.run(main_async(parser.parse_args(), work, log))


if __name__ == "__main__":
    sys.exit(main())
