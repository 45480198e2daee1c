"""Outbox relay benchmark: rows delivered per second to the fake WeCom, at rest and with a
backlog, on SQLite and PostgreSQL.

The relay runs as ``serve`` runs it: its loop (webhooks/bootstrap.py ``Loop``, 0.5 s poll)
woken by the outbox wake-up (bot/wakeup.py), the real WeCom adapter over HTTP to the fake WeCom
on 127.0.0.1, answering after ``--latency-ms`` (WeCom itself takes tens of milliseconds).

1. At rest: the relay idles; one message is committed, and the next 50 ms after the previous
   reached the fake. Prints commit-to-delivery p50/p99 and the rows per second that latency
   allows one at a time (1 / mean), with the wake-up and with polling only.
2. Backlog: 1,000 messages to 1,000 people committed at once; rows per second until the last
   reaches the fake, with 4 sends in flight per platform (default) and with 1 (serial).

    python bench/relay.py [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]
                          [--latency-ms 0,30] [--rest 200] [--backlog 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine  # noqa: E402

from bot.delivery import OutboxRelay  # noqa: E402
from bot.wakeup import Wakeup  # noqa: E402
from bot.wecom.adapter import WecomAdapter  # noqa: E402
from core import db, outbox  # noqa: E402
from core.cache import MemoryCache  # noqa: E402
from core.clock import SystemClock  # noqa: E402
from core.messages import Outbound  # noqa: E402
from tests.fakes.wecom_api import Call, FakeWecom, start_fake_wecom  # noqa: E402
from tests.fakes.wecom_support import make_settings  # noqa: E402
from webhooks.bootstrap import Loop, migrate  # noqa: E402

BENCH_DB = f"chatdesk_bench_relay_{os.getpid()}"  # two runs at once never meet
POLL_S = 0.5  # workers.outbox_poll_s default
LIMIT_S = 120.0  # no scenario may run longer
IDLE_S = 0.05


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def fresh_database(kind: str, pg: str, tmp: str) -> str:
    if kind == "sqlite":
        path = Path(tmp) / f"relay-{time.monotonic_ns()}.db"
        return f"sqlite+aiosqlite:///{path}"
    base, _, _ = pg.rpartition("/")
    admin = create_async_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)"))
        await conn.execute(text(f"CREATE DATABASE {BENCH_DB}"))
    await admin.dispose()
    return f"{base}/{BENCH_DB}"


async def add(engine: AsyncEngine, messages: list[Outbound]) -> None:
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        for m in messages:
            await outbox.add(conn, m, at=now)


class Running:
    """A relay loop (optionally woken on commit) over ``url`` to ``fake``."""

    def __init__(self, url: str, fake: FakeWecom, *, wake: bool, concurrency: int) -> None:
        self.url, self.fake, self.wake, self.concurrency = url, fake, wake, concurrency

    async def __aenter__(self) -> Running:
        self.engine = db.make_engine(self.url)
        await migrate(self.engine)
        self.session = aiohttp.ClientSession()
        cache = MemoryCache()
        adapter = WecomAdapter(make_settings(self.fake.base_url), cache, self.session)
        relay = OutboxRelay(
            engine=self.engine,
            platforms={"wecom": adapter},
            clock=SystemClock(),
            cache=cache,
            batch=20,  # workers.batch default, as serve passes it
            concurrency={"wecom": self.concurrency},
        )
        self.loop = Loop("outbox", relay.run_once, POLL_S)
        self.loop.start()
        self.wakeup = Wakeup(self.url)
        if self.wake:
            self.wakeup.subscribe("outbox", self.loop.wake)
            await self.wakeup.start()
            if self.wakeup.postgres:
                await asyncio.wait_for(self.wakeup.connected.wait(), 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.wakeup.close()
        await self.loop.stop()
        await self.session.close()
        await self.engine.dispose()


def arrivals(
    latency_s: float,
) -> tuple[dict[str, float], Callable[[Call], Awaitable[None]]]:
    """When each recipient's message reached the fake; the fake answers ``latency_s`` later."""
    seen: dict[str, float] = {}

    async def hook(call: Call) -> None:
        seen[call.json["touser"]] = time.perf_counter()
        if latency_s:
            await asyncio.sleep(latency_s)

    return seen, hook


async def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + LIMIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the relay did not deliver in time")
        await asyncio.sleep(0.001)


async def at_rest(
    url: str, fake: FakeWecom, n: int, wake: bool, latency_s: float
) -> tuple[float, list[float]]:
    seen, fake.on_accept = arrivals(latency_s)
    latencies: list[float] = []
    async with Running(url, fake, wake=wake, concurrency=4) as running:
        await asyncio.sleep(POLL_S * 2)  # idle: the loop is waiting
        for i in range(n):
            user = f"rest{i}"
            committed = time.perf_counter()
            await add(running.engine, [Outbound(platform="wecom", user_id=user, text=f"m{i}")])
            await wait_for(lambda user=user: user in seen)  # type: ignore[misc]
            latencies.append((seen[user] - committed) * 1000)
            await asyncio.sleep(IDLE_S)  # the relay goes back to waiting before the next one
    return n / (sum(latencies) / 1000), latencies


async def backlog(url: str, fake: FakeWecom, n: int, concurrency: int, latency_s: float) -> float:
    seen, fake.on_accept = arrivals(latency_s)
    engine = db.make_engine(url)
    await migrate(engine)
    await add(engine, [Outbound(platform="wecom", user_id=f"q{i}", text=f"q{i}") for i in range(n)])
    await engine.dispose()
    started = time.perf_counter()
    async with Running(url, fake, wake=True, concurrency=concurrency):
        await wait_for(lambda: len(seen) >= n)
    return n / (time.perf_counter() - started)


async def main(args: argparse.Namespace) -> None:
    kinds = ["sqlite"] + (["postgresql"] if args.pg else [])
    rows: list[tuple[Any, ...]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for latency_ms in [int(x) for x in args.latency_ms.split(",")]:
            async with start_fake_wecom() as fake:
                for kind in kinds:
                    for wake in (True, False):
                        url = await fresh_database(kind, args.pg, tmp)
                        n = args.rest if wake else max(args.rest // 5, 10)  # polling is slow
                        rate, lat = await at_rest(url, fake, n, wake, latency_ms / 1000)
                        label = "at rest, " + ("woken on commit" if wake else "polling only")
                        rows.append((kind, latency_ms, label, rate, lat))
                        print(f"{kind} {latency_ms} ms {label}: {rate:.0f}/s", flush=True)
                    for concurrency in (4, 1):
                        url = await fresh_database(kind, args.pg, tmp)
                        rate = await backlog(
                            url, fake, args.backlog, concurrency, latency_ms / 1000
                        )
                        label = f"{args.backlog:,} queued, {concurrency} in flight"
                        rows.append((kind, latency_ms, label, rate, None))
                        print(f"{kind} {latency_ms} ms {label}: {rate:.0f}/s", flush=True)
        if args.pg:
            base, _, _ = args.pg.rpartition("/")
            admin = create_async_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
            async with admin.connect() as conn:
                await conn.execute(text(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)"))
            await admin.dispose()
    print()
    print("| database | platform latency | scenario | rows/s | commit→delivered p50 / p99 |")
    print("|---|---|---|---|---|")
    for kind, latency_ms, label, rate, lat in rows:
        spread = f"{statistics.median(lat):.1f} / {pct(lat, 99):.1f} ms" if lat else "—"
        print(f"| {kind} | {latency_ms} ms | {label} | {rate:,.0f} | {spread} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", default="", help="a PostgreSQL URL (its server hosts the bench db)")
    parser.add_argument("--latency-ms", default="0,30", help="fake WeCom answer delays to try")
    parser.add_argument("--rest", type=int, default=200, help="messages in the at-rest run")
    parser.add_argument("--backlog", type=int, default=1000, help="messages queued at once")
    asyncio.run(main(parser.parse_args()))
