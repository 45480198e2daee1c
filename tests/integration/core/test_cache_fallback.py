"""FallbackCache: Redis cut away (through a real TCP proxy) switches every call to the database
with one warning, and Redis answering again switches back with one more, handing back what was
written meanwhile. The Redis-answering half runs when CHATDESK_TEST_REDIS_URL is set."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core import db
from core.cache import LockTimeout, RedisCache
from core.cache_db import DbCache
from core.cache_fallback import FallbackCache
from tests.fakes.tcp_proxy import TcpProxy
from webhooks.bootstrap import migrate

REDIS = os.environ.get("CHATDESK_TEST_REDIS_URL", "")
LONG = 300.0


@dataclass
class Rig:
    engine: AsyncEngine
    proxy: TcpProxy
    redis_url: str  # straight to Redis, not through the proxy
    prefix: str

    def instance(self) -> FallbackCache:
        """One instance's cache: Redis through the proxy, the shared database behind it."""
        url = self.proxy.url(self.redis_url or "redis://127.0.0.1:6379/0")
        return FallbackCache(
            RedisCache(url, prefix=self.prefix), DbCache(self.engine), probe_first_s=0.05
        )


@pytest.fixture
async def rig(database_url: str, redis_url: str) -> AsyncIterator[Rig]:
    engine = db.make_engine(database_url)
    await migrate(engine)
    target = urlsplit(redis_url or "redis://127.0.0.1:6379")
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    await proxy.start()
    if not redis_url:
        await proxy.cut()  # no Redis in this run: it is down from the start
    yield Rig(engine, proxy, redis_url, f"test:{uuid.uuid4().hex}:")
    await proxy.close()
    await engine.dispose()


def _switches(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "core.cache_fallback" and r.levelno == logging.WARNING
    ]


async def _until_back(cache: FallbackCache) -> None:
    for _ in range(400):  # the probe starts at 0.05 s and doubles: back well within this
        if not cache.degraded:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("Redis answers again but the cache stayed on the database")


@pytest.mark.parametrize("how", ["refused", "blackholed", "frozen"])
async def test_a_dead_redis_is_one_warning_and_every_call_answered_from_the_database(
    rig: Rig, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    cache = rig.instance()
    if rig.redis_url:
        assert await cache.get("warm") is None  # a pooled connection from before the outage
    await rig.proxy.cut(blackhole=how == "blackholed", freeze=how == "frozen")
    try:
        counts = await asyncio.gather(*(cache.incr("rate:zhangsan", ttl=LONG) for _ in range(50)))
        assert sorted(counts) == list(range(1, 51))  # one shared counter, nothing lost
        assert await cache.add_if_absent("claim:1", LONG) is True
        assert await cache.add_if_absent("claim:1", LONG) is False
        async with cache.lock("token", ttl=LONG, wait=0):
            other = rig.instance()  # a second instance sees the same database lock
            with pytest.raises(LockTimeout):
                async with other.lock("token", ttl=LONG, wait=0.2):
                    pytest.fail("the lock was taken twice")
            await other.close()
        assert await cache.ping() is True  # /readyz: the instance still works
        assert cache.degraded and cache.outages == 1
        assert await DbCache(rig.engine).get("rate:zhangsan") == "50"  # it is in the database
        assert len(_switches(caplog)) == 2  # one per instance, not one per call
        assert "Redis unreachable" in _switches(caplog)[0]
    finally:
        await cache.close()


if REDIS:

    async def test_redis_back_is_one_warning_and_what_was_written_meanwhile_is_handed_back(
        rig: Rig, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.WARNING)
        cache = rig.instance()
        direct = RedisCache(rig.redis_url, prefix=rig.prefix)
        try:
            await cache.set("token", "before", ttl=LONG)
            await cache.set("stale", "x", ttl=LONG)
            assert await cache.incr("rate", ttl=LONG) == 1
            assert await cache.incr("rate", ttl=LONG) == 2
            assert not cache.degraded
            await rig.proxy.cut()
            assert await cache.get("token") is None  # the database does not have it (yet)
            await cache.set("token", "during", ttl=LONG)
            await cache.delete("stale")
            for _ in range(3):
                await cache.incr("rate", ttl=LONG)
            assert await cache.add_if_absent("claim", LONG) is True
            assert cache.degraded
            await rig.proxy.restore()
            await _until_back(cache)
            assert await direct.get("token") == "during"
            assert await direct.get("stale") is None
            assert await direct.get("rate") == "5"  # 2 before + 3 meanwhile: no fresh bucket
            left = await direct.ttl("rate")
            assert left is not None and 0 < left <= LONG
            assert await cache.add_if_absent("claim", LONG) is False  # the claim came along
            assert await cache.incr("rate", ttl=LONG) == 6  # Redis again
            assert await DbCache(rig.engine).get("rate") == "3"  # the database was left alone
            messages = _switches(caplog)
            assert len(messages) == 2 and "answers again" in messages[1]
        finally:
            await cache.close()
            await direct.close()

    async def test_cut_again_after_recovery_switches_again(rig: Rig) -> None:
        cache = rig.instance()
        try:
            for round_ in range(1, 4):
                await rig.proxy.cut()
                await cache.set("k", str(round_))
                assert cache.degraded and cache.outages == round_
                await rig.proxy.restore()
                await _until_back(cache)
                assert await cache.get("k") == str(round_)
        finally:
            await cache.close()
