"""One contract for every Cache: MemoryCache and the database cache always, the fallback cache
with Redis cut away always (it carries on in the database), RedisCache and the fallback cache
with Redis answering when CHATDESK_TEST_REDIS_URL is set. Short TTLs (0.05 s) are only ever
checked for having expired after a longer wait; whatever must still be present uses a long TTL,
so a slow machine cannot make these tests flaky."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from core import db
from core.cache import LockTimeout, MemoryCache, RedisCache
from core.cache_db import DbCache
from core.cache_fallback import FallbackCache
from tests.fakes.tcp_proxy import TcpProxy
from webhooks.bootstrap import migrate

REDIS = os.environ.get("CHATDESK_TEST_REDIS_URL", "")
KINDS = ["memory", "db", "redis-cut"] + (["redis", "redis-up"] if REDIS else [])

SHORT = 0.05  # seconds
PAST_SHORT = 0.12  # a wait after which a SHORT ttl has surely run out
LONG = 30.0


@pytest.fixture(params=KINDS)
async def cache(
    request: pytest.FixtureRequest, redis_url: str, database_url: str
) -> AsyncIterator[object]:
    prefix = f"test:{uuid.uuid4().hex}:"  # unique per test
    engine = db.make_engine(database_url)
    target = urlsplit(redis_url or "redis://127.0.0.1:6379")
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    await proxy.start()
    c: MemoryCache | RedisCache | DbCache | FallbackCache
    if request.param == "memory":
        c = MemoryCache()
    elif request.param == "redis":
        c = RedisCache(redis_url, prefix=prefix)
    else:
        await migrate(engine)
        c = DbCache(engine)
        if request.param.startswith("redis-"):
            if request.param == "redis-cut":
                await proxy.cut()  # refused from the first call on
            c = FallbackCache(
                RedisCache(proxy.url(redis_url or "redis://127.0.0.1/0"), prefix=prefix), c
            )
    yield c
    if isinstance(c, FallbackCache):
        assert c.degraded is (request.param == "redis-cut")
    await c.close()
    await proxy.close()
    await engine.dispose()
    if request.param in ("redis", "redis-up"):
        from redis import asyncio as aioredis

        client = aioredis.from_url(redis_url)
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_ping(cache: MemoryCache) -> None:
    assert await cache.ping() is True


async def test_add_if_absent_sets_only_once(cache: MemoryCache) -> None:
    assert await cache.add_if_absent("dedupe:m1", LONG, value="first") is True
    assert await cache.add_if_absent("dedupe:m1", LONG, value="second") is False
    assert await cache.get("dedupe:m1") == "first"
    assert await cache.add_if_absent("dedupe:m2", LONG) is True
    assert await cache.get("dedupe:m2") == "1"  # the default value


async def test_add_if_absent_ttl_expires(cache: MemoryCache) -> None:
    assert await cache.add_if_absent("dedupe:short", SHORT) is True
    await asyncio.sleep(PAST_SHORT)
    assert await cache.get("dedupe:short") is None
    assert await cache.add_if_absent("dedupe:short", LONG) is True
    assert await cache.add_if_absent("dedupe:short", LONG) is False


async def test_get_set_delete(cache: MemoryCache) -> None:
    assert await cache.get("token") is None
    await cache.set("token", "abc")
    assert await cache.get("token") == "abc"
    assert await cache.ttl("token") is None  # no expiry
    await cache.set("token", "中文值 with spaces")
    assert await cache.get("token") == "中文值 with spaces"
    await cache.delete("token")
    assert await cache.get("token") is None
    await cache.delete("token")  # deleting what is absent is fine
    assert await cache.add_if_absent("token", LONG) is True  # and the key is free again


async def test_set_with_ttl(cache: MemoryCache) -> None:
    await cache.set("token", "abc", ttl=LONG)
    left = await cache.ttl("token")
    assert left is not None and 0 < left <= LONG
    await cache.set("token", "def")  # a set without ttl makes the key permanent again
    assert await cache.ttl("token") is None and await cache.get("token") == "def"
    await cache.set("short", "x", ttl=SHORT)
    await asyncio.sleep(PAST_SHORT)
    assert await cache.get("short") is None
    assert await cache.ttl("short") is None


async def test_ttl_of_absent_key(cache: MemoryCache) -> None:
    assert await cache.ttl("absent") is None


async def test_keys_do_not_collide(cache: MemoryCache) -> None:
    await cache.set("a", "1")
    await cache.set("a:b", "2")
    assert (await cache.get("a"), await cache.get("a:b")) == ("1", "2")


async def test_incr(cache: MemoryCache) -> None:
    assert await cache.incr("count") == 1
    assert await cache.incr("count") == 2
    assert await cache.incr("count", 5) == 7
    assert await cache.incr("count", -2) == 5
    assert await cache.get("count") == "5"
    assert await cache.ttl("count") is None


async def test_incr_many(cache: MemoryCache) -> None:
    assert await cache.incr_many({}) == {}
    assert await cache.incr_many({"a": 1, "b": 3}, ttl=LONG) == {"a": 1, "b": 3}
    assert await cache.incr_many({"b": -1, "c": 2}, ttl=LONG) == {"b": 2, "c": 2}
    assert await cache.incr("a") == 2  # the same counters as incr's
    assert (await cache.get("b"), await cache.get("c")) == ("2", "2")
    ttl = await cache.ttl("c")
    assert ttl is not None and 0 < ttl <= LONG
    assert await cache.incr_many({"c": 1}, ttl=10 * LONG) == {"c": 3}
    later = await cache.ttl("c")
    assert later is not None and later <= LONG  # set when created, not pushed out later
    assert await cache.incr_many({"d": 1}) == {"d": 1}
    assert await cache.ttl("d") is None


async def test_incr_ttl_is_set_when_the_counter_is_created(cache: MemoryCache) -> None:
    assert await cache.incr("rate", ttl=LONG) == 1
    first = await cache.ttl("rate")
    assert first is not None and 0 < first <= LONG
    assert await cache.incr("rate", ttl=10 * LONG) == 2
    later = await cache.ttl("rate")
    assert later is not None and later <= LONG  # not pushed out by the second incr


async def test_incr_counter_expires(cache: MemoryCache) -> None:
    assert await cache.incr("bucket", ttl=SHORT) == 1
    assert await cache.incr("bucket", ttl=SHORT) in (2, 1)  # 1 only if it expired in between
    await asyncio.sleep(PAST_SHORT)
    assert await cache.get("bucket") is None
    assert await cache.incr("bucket", ttl=LONG) == 1  # a new counter


async def test_lock_excludes_a_second_holder(cache: MemoryCache) -> None:
    log: list[str] = []
    a_in = asyncio.Event()
    release = asyncio.Event()

    async def first() -> None:
        async with cache.lock("token-refresh", ttl=LONG):
            log.append("a in")
            a_in.set()
            await release.wait()
            log.append("a out")

    async def second() -> None:
        await a_in.wait()
        async with cache.lock("token-refresh", ttl=LONG, wait=LONG):
            log.append("b in")
        log.append("b out")

    tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
    await a_in.wait()
    await asyncio.sleep(0.1)  # give the second task time to try (and fail) to take the lock
    assert log == ["a in"]
    release.set()
    await asyncio.gather(*tasks)
    assert log == ["a in", "a out", "b in", "b out"]


async def test_lock_timeout_when_the_wait_runs_out(cache: MemoryCache) -> None:
    async with cache.lock("busy", ttl=LONG):
        with pytest.raises(LockTimeout):
            async with cache.lock("busy", ttl=LONG, wait=SHORT):
                pytest.fail("the lock was taken twice")
        async with cache.lock("other-name", ttl=LONG, wait=0):
            pass  # a different name is not blocked
    async with cache.lock("busy", ttl=LONG, wait=0):
        pass  # released on exit: free at once


async def test_lock_is_released_when_the_body_raises(cache: MemoryCache) -> None:
    with pytest.raises(RuntimeError):
        async with cache.lock("job", ttl=LONG):
            raise RuntimeError("boom")
    async with cache.lock("job", ttl=LONG, wait=0):
        pass


async def test_lock_ttl_frees_a_lock_whose_holder_vanished(cache: MemoryCache) -> None:
    crashed = cache.lock("job", ttl=SHORT)
    await crashed.__aenter__()  # taken and never released (its holder died)
    async with cache.lock("job", ttl=LONG, wait=LONG):
        # the late exit of the vanished holder must not free the lock of the new holder
        await crashed.__aexit__(None, None, None)
        with pytest.raises(LockTimeout):
            async with cache.lock("job", ttl=LONG, wait=0):
                pytest.fail("the lock was taken twice")
    async with cache.lock("job", ttl=LONG, wait=0):
        pass
