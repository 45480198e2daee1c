"""Cache port: dedupe keys with TTL, locks, token storage and counters.

MemoryCache serves one process (the embedded default); RedisCache serves several instances and
raises CacheUnavailable when Redis cannot be reached (short timeouts, no retries: an outage
costs milliseconds); FallbackCache (core/cache_fallback.py) then carries on in the database.
All pass the same contract tests (tests/integration/core/test_cache_contract.py).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")


REDIS_CONNECT_TIMEOUT_S = 0.25
REDIS_TIMEOUT_S = 0.5  # a Redis answer takes well under a millisecond; past this it is down


class LockTimeout(Exception):
    """The lock could not be taken within the wait time."""


class CacheUnavailable(Exception):
    """The cache's server could not be reached (refused, reset, timed out)."""


class Cache(Protocol):
    async def add_if_absent(self, key: str, ttl: float, value: str = "1") -> bool:
        """Set ``key`` only if it is absent; True when this call set it."""
        ...

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str, ttl: float | None = None) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        """Add to a counter; ``ttl`` is applied when the counter is created."""
        ...

    async def incr_many(
        self, amounts: Mapping[str, int], ttl: float | None = None
    ) -> dict[str, int]:
        """:meth:`incr` of several counters (on Redis in one round trip); their new values."""
        ...

    async def ttl(self, key: str) -> float | None:
        """Seconds left, None when the key is absent or never expires."""
        ...

    def lock(self, name: str, ttl: float, wait: float = 10.0) -> Any:
        """Async context manager holding a named lock for at most ``ttl`` seconds."""
        ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


class MemoryCache:
    """In-process cache; correct for a single instance only."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._data: dict[str, tuple[str, float | None]] = {}
        self._locks: dict[str, tuple[str, float]] = {}

    def _live(self, key: str) -> tuple[str, float | None] | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[1] is not None and item[1] <= self._clock():
            del self._data[key]
            return None
        return item

    async def add_if_absent(self, key: str, ttl: float, value: str = "1") -> bool:
        if self._live(key) is not None:
            return False
        self._data[key] = (value, self._clock() + ttl)
        return True

    async def get(self, key: str) -> str | None:
        item = self._live(key)
        return item[0] if item else None

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        self._data[key] = (value, self._clock() + ttl if ttl else None)

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        item = self._live(key)
        if item is None:
            value, expires = 0, (self._clock() + ttl if ttl else None)
        else:
            value, expires = int(item[0]), item[1]
        value += amount
        self._data[key] = (str(value), expires)
        return value

    async def incr_many(
        self, amounts: Mapping[str, int], ttl: float | None = None
    ) -> dict[str, int]:
        return {key: await self.incr(key, amount, ttl) for key, amount in amounts.items()}

    async def ttl(self, key: str) -> float | None:
        item = self._live(key)
        if item is None or item[1] is None:
            return None
        return item[1] - self._clock()

    @asynccontextmanager
    async def lock(self, name: str, ttl: float, wait: float = 10.0) -> AsyncIterator[None]:
        token = uuid.uuid4().hex
        deadline = self._clock() + wait
        while True:
            held = self._locks.get(name)
            if held is None or held[1] <= self._clock():
                self._locks[name] = (token, self._clock() + ttl)
                break
            if self._clock() >= deadline:
                raise LockTimeout(name)
            await asyncio.sleep(0.01)
        try:
            yield
        finally:
            if self._locks.get(name, ("", 0.0))[0] == token:
                del self._locks[name]

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._data.clear()


_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""

_INCR = """
local v = redis.call('incrby', KEYS[1], ARGV[1])
if tonumber(v) == tonumber(ARGV[1]) and tonumber(ARGV[2]) > 0 then
  redis.call('pexpire', KEYS[1], ARGV[2])
end
return v
"""

_INCR_MANY = """
local out = {}
for i, key in ipairs(KEYS) do
  local v = redis.call('incrby', key, ARGV[i + 1])
  if tonumber(v) == tonumber(ARGV[i + 1]) and tonumber(ARGV[1]) > 0 then
    redis.call('pexpire', key, ARGV[1])
  end
  out[i] = v
end
return out
"""


class RedisCache:
    """Cache shared by several instances through Redis. Keys are prefixed with ``prefix``."""

    def __init__(
        self, url: str, *, prefix: str = "chatdesk:", timeout_s: float = REDIS_TIMEOUT_S
    ) -> None:
        # imported lazily: core stays free of redis
        from redis import asyncio as aioredis
        from redis import exceptions
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self._redis = aioredis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=min(REDIS_CONNECT_TIMEOUT_S, timeout_s),
            socket_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),  # the default retries for seconds; we fall back instead
            health_check_interval=30,  # an idle pooled connection is checked before reuse
        )
        self._down = (exceptions.ConnectionError, exceptions.TimeoutError, OSError, TimeoutError)
        self._prefix = prefix
        self._release = self._redis.register_script(_RELEASE)
        self._incr = self._redis.register_script(_INCR)
        self._incr_many = self._redis.register_script(_INCR_MANY)

    def _k(self, key: str) -> str:
        return self._prefix + key

    async def _do(self, call: Awaitable[T]) -> T:
        try:
            return await call
        except self._down as exc:
            raise CacheUnavailable(f"Redis: {type(exc).__name__}: {exc}") from exc

    async def add_if_absent(self, key: str, ttl: float, value: str = "1") -> bool:
        return bool(await self._do(self._redis.set(self._k(key), value, px=_ms(ttl), nx=True)))

    async def get(self, key: str) -> str | None:
        return await self._do(self._redis.get(self._k(key)))

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        await self._do(self._redis.set(self._k(key), value, px=_ms(ttl) if ttl else None))

    async def delete(self, key: str) -> None:
        await self._do(self._redis.delete(self._k(key)))

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        ms = _ms(ttl) if ttl else 0
        return int(await self._do(self._incr(keys=[self._k(key)], args=[amount, ms])))

    async def incr_many(
        self, amounts: Mapping[str, int], ttl: float | None = None
    ) -> dict[str, int]:
        if not amounts:
            return {}
        keys = list(amounts)
        args = [_ms(ttl) if ttl else 0, *(amounts[k] for k in keys)]
        values = await self._do(self._incr_many(keys=[self._k(k) for k in keys], args=args))
        return {key: int(v) for key, v in zip(keys, values, strict=True)}

    async def ttl(self, key: str) -> float | None:
        ms = await self._do(self._redis.pttl(self._k(key)))
        return ms / 1000 if ms is not None and ms >= 0 else None

    @asynccontextmanager
    async def lock(self, name: str, ttl: float, wait: float = 10.0) -> AsyncIterator[None]:
        key = self._k("lock:" + name)
        token = uuid.uuid4().hex
        deadline = time.monotonic() + wait
        while not await self._do(self._redis.set(key, token, px=_ms(ttl), nx=True)):
            if time.monotonic() >= deadline:
                raise LockTimeout(name)
            await asyncio.sleep(0.02)
        try:
            yield
        finally:
            with suppress(CacheUnavailable):  # unreachable now: the lock ends with its ttl
                await self._do(self._release(keys=[key], args=[token]))

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except Exception:
            return False

    async def reset(self) -> None:
        """Drop the pooled connections (after an outage they are dead ends)."""
        await self._redis.connection_pool.disconnect()

    async def close(self) -> None:
        await self._redis.aclose()


def _ms(seconds: float) -> int:
    return max(int(seconds * 1000), 1)


def import_client(redis_url: str) -> None:
    """Import what ``make_cache`` will use for ``redis_url``, ahead of it: serve does so before
    it forks its worker processes, so that the Redis client's modules (some 7 MB) are one copy
    shared by both instead of one imported by each (webhooks/forked_workers.py)."""
    if redis_url:
        import redis.asyncio.retry
        import redis.backoff  # noqa: F401

        import core.cache_db
        import core.cache_fallback  # noqa: F401


def make_cache(redis_url: str, engine: AsyncEngine | None = None) -> Cache:
    """The in-process cache without Redis; with Redis and a database, Redis backed by the
    database while Redis is unreachable."""
    if not redis_url:
        return MemoryCache()
    if engine is None:
        return RedisCache(redis_url)
    from core.cache_db import DbCache
    from core.cache_fallback import FallbackCache

    return FallbackCache(RedisCache(redis_url), DbCache(engine))
