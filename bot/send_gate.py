"""One gate per platform in front of the relay's sends: bounded concurrency, and a pause when
the platform as a whole says "not now".

A rate limit (WeCom 45009, 45033, -1; DingTalk 90002, an IP ban), a 5xx, an HTML error page, a
timeout or a refused token concerns every message to that platform, not the one that met it.
So the gate pauses the platform: for the platform's hint, or for a capped, jittered delay that
doubles with each consecutive failure. While paused, nothing is sent (the relay puts the rows
back until the pause ends, without counting an attempt); when the pause ends, one probe goes
alone, and the others follow only once it got through. An outage thus costs a handful of probes
per relay, whatever the backlog, instead of one request per queued row.

Within the limits: WeCom answers 45033 from about 5-10 concurrent calls on some APIs, and
DingTalk allows 10,000 calls per 20 s per IP (then a 5 minute ban); the default of 4 sends in
flight per platform stays far below both, and is what the relay needs to keep up with
thousands of messages a minute (per-person limits are the budget's job, bot/delivery.py).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from core.clock import Clock

DEFAULT_CONCURRENCY = 4


class Paused(Exception):
    """The platform is paused until ``until``."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"paused until {until.isoformat()}")
        self.until = until


class PlatformGate:
    def __init__(
        self,
        clock: Clock,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        base_s: float = 1.0,
        cap_s: float = 60.0,
        longest_s: float = 900.0,
    ) -> None:
        self.clock = clock
        self.base_s = base_s
        self.cap_s = cap_s
        self.longest_s = longest_s  # even a platform's own hint is not followed past this
        self.paused_until: datetime | None = None
        self.failures = 0  # consecutive platform-wide failures
        self.trips = 0
        self._generation = 0  # bumped by each trip: sends that started before do not count
        self._slots = asyncio.Semaphore(concurrency)
        self._probe = asyncio.Lock()

    def check(self) -> None:
        """Raise Paused while the platform is paused."""
        if self.paused_until is not None and self.clock.now() < self.paused_until:
            raise Paused(self.paused_until)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[int]:
        """Hold one of the platform's send slots; yields the generation to report with."""
        self.check()
        async with self._slots:
            probing = self.failures > 0
            if probing:  # after a pause: one at a time until a send gets through
                await self._probe.acquire()
            try:
                self.check()
                yield self._generation
            finally:
                if probing:
                    self._probe.release()

    def ok(self) -> None:
        """The platform answered (even a refusal of one message counts)."""
        self.failures = 0
        self.paused_until = None

    def trip(self, generation: int, hint: float | None) -> datetime:
        """A platform-wide failure; returns when sending may resume."""
        if generation == self._generation:  # the first of a burst of in-flight failures
            self._generation += 1
            self.failures += 1
            self.trips += 1
            ceiling = min(self.cap_s, self.base_s * 2 ** (self.failures - 1))
            delay = ceiling / 2 + random.uniform(0, ceiling / 2)
            delay = min(max(delay, hint or 0.0), self.longest_s)
            self.paused_until = self.clock.now() + timedelta(seconds=delay)
        return self.paused_until or self.clock.now()
