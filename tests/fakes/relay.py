"""The outbox relay (bot/delivery.py) as the relay tests run it: over a migrated database, on a
fixed clock the test moves, to the platforms the test gives (the recording fake, or the real
WeCom adapter against the fake WeCom); rows put straight into the outbox and read back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.delivery import OutboxRelay
from bot.ports import ChatPlatform
from core import db, outbox
from core.cache import Cache, MemoryCache
from core.clock import FixedClock
from core.messages import Outbound
from webhooks.bootstrap import migrate


@asynccontextmanager
async def migrated(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the test database, migrated; disposed at the end."""
    engine = db.make_engine(database_url)
    try:
        await migrate(engine)
        yield engine
    finally:
        await engine.dispose()


def fixed_relay(
    engine: AsyncEngine,
    platforms: Mapping[str, ChatPlatform],
    *,
    at: datetime,
    cache: Cache | None = None,
    **options: Any,
) -> tuple[OutboxRelay, FixedClock]:
    """A relay whose clock stands at ``at`` until the test moves it, and that clock.
    ``options`` are OutboxRelay's own (max_attempts, per_person_per_minute, retry_base_s…)."""
    clock = FixedClock(at)
    relay = OutboxRelay(
        engine=engine, platforms=platforms, clock=clock, cache=cache or MemoryCache(), **options
    )
    return relay, clock


async def queue(engine: AsyncEngine, *messages: Outbound, at: datetime) -> None:
    """Put ``messages`` in the outbox, due at ``at``, in one transaction."""
    async with engine.begin() as conn:
        for message in messages:
            await outbox.add(conn, message, at=at)


async def outbox_states(engine: AsyncEngine) -> dict[str, tuple[str, int, str]]:
    """Each outbox row's (status, attempts, error) by its dedupe key."""
    o = db.outbox.c
    async with engine.connect() as conn:
        rows = await conn.execute(select(o.dedupe_key, o.status, o.attempts, o.error))
        return {r.dedupe_key: (r.status, r.attempts, r.error) for r in rows}
