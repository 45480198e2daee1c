"""What a Redis outage costs the cache calls of one process (FallbackCache, as serve builds it).

Redis is reached through a loopback TCP proxy (tests/fakes/tcp_proxy.py) that is cut: refused
(Redis stopped) or blackholed (a network that swallows packets, on the open connections too). Measured per database (SQLite
file, and PostgreSQL with --pg): the relay's per-message cache work (one ``get`` of the send
budget and one ``incr``) with Redis answering, the first call after the cut (it finds Redis
gone and is served by the database), the same work while on the database, and how long after
Redis is back the calls return to it.

    .venv/bin/python bench/redis_down.py [--redis redis://127.0.0.1:6379/4] [--pg URL] [--n 500]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core import db  # noqa: E402
from core.cache import RedisCache  # noqa: E402
from core.cache_db import DbCache  # noqa: E402
from core.cache_fallback import FallbackCache  # noqa: E402
from tests.fakes.tcp_proxy import TcpProxy  # noqa: E402
from webhooks.bootstrap import migrate  # noqa: E402


def ms(values: list[float]) -> str:
    values = sorted(values)
    p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
    return f"p50 {statistics.median(values) * 1000:6.2f} ms  p99 {p99 * 1000:6.2f} ms"


async def timed(step: Callable[[], Awaitable[object]]) -> float:
    start = time.perf_counter()
    await step()
    return time.perf_counter() - start


async def relay_work(cache: FallbackCache, n: int) -> list[float]:
    """One message's cache calls in the relay: read the person's budget, count the send."""
    out = []
    for i in range(n):
        key = f"outbox:rate:wecom:user{i % 50}:bench"

        async def one(key: str = key) -> None:
            await cache.get(key)
            await cache.incr(key, 1, ttl=120)

        out.append(await timed(one))
    return out


async def run(label: str, database_url: str, redis_url: str, n: int, blackhole: bool) -> None:
    engine = db.make_engine(database_url)
    await migrate(engine)
    target = urlsplit(redis_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    await proxy.start()
    cache = FallbackCache(
        RedisCache(proxy.url(redis_url), prefix=f"bench:{uuid.uuid4().hex}:"), DbCache(engine)
    )
    try:
        up = await relay_work(cache, n)
        await proxy.cut(freeze=blackhole)
        first = await timed(lambda: cache.get("outbox:rate:wecom:user0:bench"))
        assert cache.degraded
        down = await relay_work(cache, n)
        await proxy.restore()
        back_at = time.perf_counter()
        for _ in range(4000):  # bounded: the probe pause is at most 10 s
            if not cache.degraded:
                break
            await asyncio.sleep(0.005)
        back = time.perf_counter() - back_at
        again = await relay_work(cache, n)
        how = "blackholed" if blackhole else "refused"
        print(f"{label:10} Redis {how:10}")
        print(f"  Redis answering        {ms(up)}")
        print(
            f"  first call after cut   {first * 1000:6.1f} ms (finds Redis gone, then the database)"
        )
        print(f"  on the database        {ms(down)}")
        print(f"  back on Redis after    {back:6.2f} s (the probe's pause when Redis returned)")
        print(f"  Redis answering again  {ms(again)}")
    finally:
        await cache.close()
        await proxy.close()
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/4")
    parser.add_argument("--pg", default="", help="a PostgreSQL URL (postgresql+asyncpg://...)")
    parser.add_argument("--n", type=int, default=500, help="messages per phase")
    args = parser.parse_args()
    print(f"relay cache work per message (get + incr), {args.n} messages per phase")
    with tempfile.TemporaryDirectory() as tmp:
        databases = [("SQLite", f"sqlite+aiosqlite:///{tmp}/bench.db")]
        if args.pg:
            databases.append(("PostgreSQL", args.pg))
        for label, url in databases:
            for blackhole in (False, True):
                await run(label, url, args.redis, args.n, blackhole)


if __name__ == "__main__":
    asyncio.run(main())
