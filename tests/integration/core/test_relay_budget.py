"""The relay's per-person budget: past it, a person's messages wait for the next minute and
are merged into one (WeCom silently drops more than 30 a minute to one person)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.delivery import OutboxRelay
from core import db, outbox
from core.cache import MemoryCache
from core.clock import FixedClock
from core.messages import Outbound
from tests.fakes.platform import RecordingPlatform
from webhooks.bootstrap import migrate

T0 = datetime(2026, 3, 2, 2, 0, 10, tzinfo=UTC)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.make_engine(database_url)
    await migrate(engine)
    yield engine
    await engine.dispose()


async def queue(engine: AsyncEngine, text: str, at: datetime, user: str = "u1") -> None:
    async with engine.begin() as conn:
        await outbox.add(
            conn, Outbound(platform="wecom", user_id=user, text=text, dedupe_key=text), at=at
        )


async def test_messages_past_the_budget_wait_and_are_merged(engine: AsyncEngine) -> None:
    clock = FixedClock(T0)
    platform = RecordingPlatform(name="wecom")
    relay = OutboxRelay(
        engine=engine,
        platforms={"wecom": platform},
        clock=clock,
        cache=MemoryCache(),
        per_person_per_minute=2,
    )
    for i in range(5):  # five messages to one person, each falling due on its own
        await queue(engine, f"m{i}", clock.now())
        await relay.run_once()
        clock.advance(seconds=5)
    await queue(engine, "other-person", clock.now(), user="u2")
    await relay.run_once()
    assert [sent[2] for sent in platform.sent] == ["m0", "m1", "other-person"]

    async with engine.connect() as conn:
        waiting = (await conn.execute(select(db.outbox.c.status, db.outbox.c.attempts).where(
            db.outbox.c.dedupe_key.in_(["m2", "m3", "m4"])))).all()  # fmt: skip
    assert {tuple(r) for r in waiting} == {("pending", 0)}  # deferring is not a failed attempt

    clock.set(datetime(2026, 3, 2, 2, 1, 0, tzinfo=UTC))
    await relay.run_once()
    assert platform.sent[-1][2] == "m2\n\nm3\n\nm4"  # one merged message in the next minute
    assert len(platform.sent) == 4


async def test_failed_attempts_do_not_spend_the_budget(engine: AsyncEngine) -> None:
    clock = FixedClock(T0)
    platform = RecordingPlatform(name="wecom")
    relay = OutboxRelay(
        engine=engine, platforms={"wecom": platform}, clock=clock, cache=MemoryCache(),
        per_person_per_minute=2, retry_base_s=0.001, retry_cap_s=0.001,
    )  # fmt: skip
    platform.fail_retryable(times=5)
    await queue(engine, "after-outage", clock.now())
    for _ in range(6):  # five failures, then it goes through
        clock.advance(seconds=1)
        await relay.run_once()
    await queue(engine, "next", clock.now())
    await relay.run_once()
    assert [sent[2] for sent in platform.sent] == ["after-outage", "next"]
