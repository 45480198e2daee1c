"""Cache port: dedupe keys with TTL, locks, token storage and counters.

MemoryCache serves one process (the embedded default); RedisCache serves several instances.
Both pass the same contract tests (tests/integration/test_cache_contract.py).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol


class LockTimeout(Exception):
    """The lock could not be taken within the wait time."""


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


class RedisCache:
    """Cache shared by several instances through Redis. Keys are prefixed with ``prefix``."""

    def __init__(self, url: str, *, prefix: str = "chatdesk:") -> None:
        from redis import asyncio as aioredis  # imported lazily: core stays free of redis

        self._redis = aioredis.from_url(url, decode_responses=True)
        self._prefix = prefix
        self._release = self._redis.register_script(_RELEASE)
        self._incr = self._redis.register_script(_INCR)

    def _k(self, key: str) -> str:
        return self._prefix + key

    async def add_if_absent(self, key: str, ttl: float, value: str = "1") -> bool:
        return bool(await self._redis.set(self._k(key), value, px=int(ttl * 1000), nx=True))

    async def get(self, key: str) -> str | None:
        return await self._redis.get(self._k(key))

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        await self._redis.set(self._k(key), value, px=int(ttl * 1000) if ttl else None)

    async def delete(self, key: str) -> None:
        await self._redis.delete(self._k(key))

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        ms = int(ttl * 1000) if ttl else 0
        return int(await self._incr(keys=[self._k(key)], args=[amount, ms]))

    async def ttl(self, key: str) -> float | None:
        ms = await self._redis.pttl(self._k(key))
        return ms / 1000 if ms is not None and ms >= 0 else None

    @asynccontextmanager
    async def lock(self, name: str, ttl: float, wait: float = 10.0) -> AsyncIterator[None]:
        key = self._k("lock:" + name)
        token = uuid.uuid4().hex
        deadline = time.monotonic() + wait
        while not await self._redis.set(key, token, px=int(ttl * 1000), nx=True):
            if time.monotonic() >= deadline:
                raise LockTimeout(name)
            await asyncio.sleep(0.02)
        try:
            yield
        finally:
            await self._release(keys=[key], args=[token])

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except Exception:
            return False

    async def close(self) -> None:
        await self._redis.aclose()


def make_cache(redis_url: str) -> MemoryCache | RedisCache:
    return RedisCache(redis_url) if redis_url else MemoryCache()
