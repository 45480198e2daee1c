"""FallbackCache: Redis while it answers, the database while it does not.

The first call that finds Redis unreachable (refused, reset, timed out: RedisCache raises
CacheUnavailable within half a second) switches every call to the database cache and starts a
probe that pings Redis with a growing pause (0.5 s doubling to 10 s). When a ping answers, the
pooled connections from before the outage are dropped, calls go to Redis again, and what was
written to the database meanwhile is handed back (counters added, tokens and claims copied,
deletions repeated), so a rate bucket does not restart at zero. One warning is logged when
Redis goes and one when it is back, never one per call.

While two instances disagree about Redis (one sees it, the other does not), a lock taken in
one store does not exclude a holder in the other; what the locks guard (a token refresh) is
then done at most once per store, and the database's unique keys still hold every dedupe.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from typing import Literal, TypeVar

from core.cache import CacheUnavailable, RedisCache
from core.cache_db import DbCache

log = logging.getLogger(__name__)

T = TypeVar("T")
Op = Literal["set", "add", "incr", "delete"]

PROBE_FIRST_S = 0.5
PROBE_MAX_S = 10.0
FLAP_WINDOW_S = 60.0  # down again this soon after coming back: keep the longer probe pause
HANDBACK_PASSES = 5  # while calls keep writing to the database during the hand-back
HANDBACK_MAX = 10_000  # keys remembered for the hand-back; beyond, the oldest are forgotten


class FallbackCache:
    def __init__(
        self,
        primary: RedisCache,
        fallback: DbCache,
        *,
        probe_first_s: float = PROBE_FIRST_S,
        probe_max_s: float = PROBE_MAX_S,
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.degraded = False
        self.outages = 0  # how many times Redis went away (for tests and /metrics readers)
        self._probe_first_s = probe_first_s
        self._probe_max_s = probe_max_s
        self._next_probe_s = probe_first_s
        self._since = 0.0
        self._back_at = -FLAP_WINDOW_S
        self._probe: asyncio.Task[None] | None = None
        self._written: dict[str, Op] = {}
        self._added: dict[str, int] = {}  # counters' values handed back so far (this recovery)

    # -- switching ----------------------------------------------------------------------------

    def _went_down(self, exc: CacheUnavailable) -> None:
        if self.degraded:
            return
        self.degraded = True
        self.outages += 1
        self._since = time.monotonic()
        if self._since - self._back_at > FLAP_WINDOW_S:
            self._next_probe_s = self._probe_first_s
        log.warning(
            "Redis unreachable (%s): locks, tokens and counters use the database until it "
            "answers again",
            exc,
        )
        self._probe = asyncio.get_running_loop().create_task(self._probe_until_back())

    async def _probe_until_back(self) -> None:
        while True:
            await asyncio.sleep(self._next_probe_s)
            self._next_probe_s = min(self._next_probe_s * 2, self._probe_max_s)
            if not await self.primary.ping():
                continue
            await self.primary.reset()
            self._added = {}
            try:
                handed = await self._switch_back()
            except CacheUnavailable:
                continue  # gone again while handing back: what is left waits for next time
            self._back_at = time.monotonic()
            log.warning(
                "Redis answers again after %.1f s: back from the database (%d keys handed back)",
                self._back_at - self._since,
                handed,
            )
            return

    async def _switch_back(self) -> int:
        handed = 0
        for _ in range(HANDBACK_PASSES):  # calls still go to the database meanwhile
            handed += await self._hand_back()
            if not self._written:
                break
        self.degraded = False  # no await since the check: nothing was written in between
        with suppress(CacheUnavailable):  # left over after the last pass, if any
            handed += await self._hand_back()
        return handed

    async def _hand_back(self) -> int:
        """Copy what was written to the database during the outage into Redis; a counter
        handed back in an earlier pass only adds what it gained since."""
        written, self._written = self._written, {}
        handed = 0
        for key, op in written.items():
            try:
                handed += await self._hand_back_one(key, op)
            except CacheUnavailable:
                self._written.update(written)  # kept for the next recovery
                raise
        return handed

    async def _hand_back_one(self, key: str, op: Op) -> int:
        if op == "delete":
            await self.primary.delete(key)
            return 1
        value = await self.fallback.get(key)
        if value is None:
            return 0  # expired meanwhile
        ttl = await self.fallback.ttl(key)
        if op == "incr":
            gained = int(value) - self._added.get(key, 0)
            if gained > 0:
                await self.primary.incr(key, gained, ttl=ttl)
            self._added[key] = int(value)
        elif op == "add":
            await self.primary.add_if_absent(key, ttl or 86400.0, value)
        else:
            await self.primary.set(key, value, ttl=ttl)
        return 1

    def _remember(self, key: str, op: Op) -> None:
        self._written.pop(key, None)
        self._written[key] = op
        if len(self._written) > HANDBACK_MAX:
            del self._written[next(iter(self._written))]

    async def _call(
        self, use_primary: Callable[[], Awaitable[T]], use_fallback: Callable[[], Awaitable[T]]
    ) -> T:
        if not self.degraded:
            try:
                return await use_primary()
            except CacheUnavailable as exc:
                self._went_down(exc)
        return await use_fallback()

    async def _write(
        self,
        key: str,
        op: Op,
        use_primary: Callable[[], Awaitable[T]],
        use_fallback: Callable[[], Awaitable[T]],
    ) -> T:
        result = await self._call(use_primary, use_fallback)
        if self.degraded:
            self._remember(key, op)
        return result

    # -- the Cache port -----------------------------------------------------------------------

    async def add_if_absent(self, key: str, ttl: float, value: str = "1") -> bool:
        return await self._write(
            key,
            "add",
            lambda: self.primary.add_if_absent(key, ttl, value),
            lambda: self.fallback.add_if_absent(key, ttl, value),
        )

    async def get(self, key: str) -> str | None:
        return await self._call(lambda: self.primary.get(key), lambda: self.fallback.get(key))

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        await self._write(
            key,
            "set",
            lambda: self.primary.set(key, value, ttl),
            lambda: self.fallback.set(key, value, ttl),
        )

    async def delete(self, key: str) -> None:
        await self._write(
            key, "delete", lambda: self.primary.delete(key), lambda: self.fallback.delete(key)
        )

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        return await self._write(
            key,
            "incr",
            lambda: self.primary.incr(key, amount, ttl),
            lambda: self.fallback.incr(key, amount, ttl),
        )

    async def incr_many(
        self, amounts: Mapping[str, int], ttl: float | None = None
    ) -> dict[str, int]:
        result = await self._call(
            lambda: self.primary.incr_many(amounts, ttl),
            lambda: self.fallback.incr_many(amounts, ttl),
        )
        if self.degraded:
            for key in amounts:
                self._remember(key, "incr")
        return result

    async def ttl(self, key: str) -> float | None:
        return await self._call(lambda: self.primary.ttl(key), lambda: self.fallback.ttl(key))

    @asynccontextmanager
    async def lock(self, name: str, ttl: float, wait: float = 10.0) -> AsyncIterator[None]:
        if not self.degraded:
            held = self.primary.lock(name, ttl, wait)
            try:
                await held.__aenter__()
            except CacheUnavailable as exc:
                self._went_down(exc)
            else:
                try:
                    yield
                finally:
                    await held.__aexit__(None, None, None)  # an unreachable Redis: ttl ends it
                return
        async with self.fallback.lock(name, ttl, wait):
            yield

    async def ping(self) -> bool:
        """True while calls succeed: Redis answers, or the database stands in for it."""
        if not self.degraded:
            if await self.primary.ping():
                return True
            self._went_down(CacheUnavailable("Redis: no answer to PING"))
        return await self.fallback.ping()

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with suppress(asyncio.CancelledError):
                await self._probe
        await self.primary.close()
        await self.fallback.close()
