"""The relay's per-person budget: past it, a person's messages wait for the next minute and
are merged into one (WeCom silently drops more than 30 a minute to one person)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.cache import MemoryCache
from core.messages import Outbound
from tests.fakes.platform import RecordingPlatform
from tests.fakes.relay import fixed_relay, migrated, outbox_states, queue

T0 = datetime(2026, 3, 2, 2, 0, 10, tzinfo=UTC)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    async with migrated(database_url) as engine:
        yield engine


def text(body: str, user: str = "u1") -> Outbound:
    return Outbound(platform="wecom", user_id=user, text=body, dedupe_key=body)


async def test_messages_past_the_budget_wait_and_are_merged(engine: AsyncEngine) -> None:
    platform = RecordingPlatform(name="wecom")
    relay, clock = fixed_relay(engine, {"wecom": platform}, at=T0, per_person_per_minute=2)
    for i in range(5):  # five messages to one person, each falling due on its own
        await queue(engine, text(f"m{i}"), at=clock.now())
        await relay.run_once()
        clock.advance(seconds=5)
    await queue(engine, text("other-person", user="u2"), at=clock.now())
    await relay.run_once()
    assert [sent[2] for sent in platform.sent] == ["m0", "m1", "other-person"]

    states = await outbox_states(engine)
    waiting = {states[k][:2] for k in ("m2", "m3", "m4")}
    assert waiting == {("pending", 0)}  # deferring is not a failed attempt

    clock.set(datetime(2026, 3, 2, 2, 1, 0, tzinfo=UTC))
    await relay.run_once()
    assert platform.sent[-1][2] == "m2\n\nm3\n\nm4"  # one merged message in the next minute
    assert len(platform.sent) == 4


async def test_failed_attempts_do_not_spend_the_budget(engine: AsyncEngine) -> None:
    platform = RecordingPlatform(name="wecom")
    relay, clock = fixed_relay(
        engine, {"wecom": platform}, at=T0,
        per_person_per_minute=2, retry_base_s=0.001, retry_cap_s=0.001,
    )  # fmt: skip
    platform.fail_retryable(times=5)
    await queue(engine, text("after-outage"), at=clock.now())
    for _ in range(6):  # five failures, then it goes through
        clock.advance(seconds=1)
        await relay.run_once()
    await queue(engine, text("next"), at=clock.now())
    await relay.run_once()
    assert [sent[2] for sent in platform.sent] == ["after-outage", "next"]


def apart(body: str, user: str = "u1") -> Outbound:
    """A text never merged with the next (each its own message, its own place)."""
    return Outbound(platform="wecom", user_id=user, text=body, dedupe_key=body, coalesce=False)


async def test_one_claim_takes_no_more_places_than_the_budget_has(engine: AsyncEngine) -> None:
    platform = RecordingPlatform(name="wecom")
    cache = MemoryCache()
    relay, clock = fixed_relay(
        engine, {"wecom": platform}, at=T0, cache=cache, per_person_per_minute=2
    )
    await queue(engine, *(apart(f"m{i}") for i in range(4)), at=clock.now())
    await relay.run_once()
    assert [sent[2] for sent in platform.sent] == ["m0", "m1"]
    states = await outbox_states(engine)
    assert {states[k][:2] for k in ("m2", "m3")} == {("pending", 0)}
    assert await cache.get("outbox:rate:wecom:u1:202603020200") == "2"  # the over ones given back


async def test_a_failed_send_gives_its_place_and_the_later_ones_back(engine: AsyncEngine) -> None:
    platform = RecordingPlatform(name="wecom")
    cache = MemoryCache()
    relay, clock = fixed_relay(
        engine, {"wecom": platform}, at=T0, cache=cache, per_person_per_minute=5
    )
    platform.fail_retryable(times=1)
    await queue(engine, *(apart(f"m{i}") for i in range(3)), at=clock.now())
    await relay.run_once()
    assert platform.sent == []
    assert await cache.get("outbox:rate:wecom:u1:202603020200") == "0"
