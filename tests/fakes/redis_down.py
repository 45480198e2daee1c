"""Caches of several instances whose Redis is cut away (through tests/fakes/tcp_proxy.py):
each is the cache ``chatdesk serve`` builds (Redis with the database behind it), and all share
one database, so what they agree on goes through the database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from core import db
from core.cache import RedisCache
from core.cache_db import DbCache
from core.cache_fallback import FallbackCache
from tests.fakes.tcp_proxy import TcpProxy
from webhooks.bootstrap import migrate


@asynccontextmanager
async def caches_with_redis_down(
    database_url: str, redis_url: str, instances: int = 2
) -> AsyncIterator[list[FallbackCache]]:
    url = redis_url or "redis://127.0.0.1:6379/0"
    target = urlsplit(url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    await proxy.start()
    await proxy.cut()
    engine = db.make_engine(database_url)
    await migrate(engine)
    caches = [FallbackCache(RedisCache(proxy.url(url)), DbCache(engine)) for _ in range(instances)]
    try:
        yield caches
    finally:
        for cache in caches:
            assert cache.degraded  # the test did run on the database
            await cache.close()
        await proxy.close()
        await engine.dispose()
