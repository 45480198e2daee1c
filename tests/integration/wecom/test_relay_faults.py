"""The relay (bot/delivery.py) through the real WeCom adapter against the fake WeCom server on
loopback, under faults: a platform rate-limited for a minute, and a poison row among a thousand.

The relay runs on a fixed clock that the test moves one second per tick, as the relay's loop
would see time pass; the fake's outage is driven by the same clock, so a minute of outage
takes no minute of test time. Every loop is bounded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.delivery import OutboxRelay
from bot.wecom.adapter import WecomAdapter
from core.cache import make_cache
from core.clock import FixedClock
from core.messages import Outbound
from core.queue import DEAD, DONE
from tests.fakes.relay import fixed_relay, migrated, outbox_states, queue
from tests.fakes.wecom_api import FakeWecom
from tests.fakes.wecom_support import make_settings

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
OUTAGE_S = 60
MAX_TICKS = 400  # seconds of relay time a test may take
MAX_RUNS_PER_TICK = 100


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    async with migrated(database_url) as engine:
        yield engine


@pytest.fixture
async def make_relay(
    engine: AsyncEngine, fake: FakeWecom, redis_url: str
) -> AsyncIterator[Callable[..., tuple[OutboxRelay, FixedClock]]]:
    """``make_relay(max_attempts)``: the relay (``workers.max_attempts`` is 60 by default) on
    the real WeCom adapter, and the clock it runs on."""
    cache = make_cache(redis_url)
    async with aiohttp.ClientSession() as session:
        adapter = WecomAdapter(make_settings(fake.base_url), cache, session)

        def make(max_attempts: int = 60) -> tuple[OutboxRelay, FixedClock]:
            return fixed_relay(
                engine, {"wecom": adapter}, at=T0, cache=cache,
                max_attempts=max_attempts, action_secret=b"k" * 32,
            )  # fmt: skip

        yield make
    await cache.close()


async def run_tick(relay: OutboxRelay) -> None:
    """What the relay's loop does at one moment: run while there is work."""
    for _ in range(MAX_RUNS_PER_TICK):
        if not await relay.run_once():
            return
    raise AssertionError("the relay kept claiming rows without settling")


def delivered_texts(fake: FakeWecom) -> Counter[str]:
    """Each queued text as it reached the fake (texts merged into one message split again)."""
    return Counter(part for body in fake.sent for part in body["text"]["content"].split("\n\n"))


@pytest.mark.parametrize("failure", ["errcode 45009", "HTML 502"])
async def test_a_minute_of_rate_limiting_costs_a_few_probes_then_everything_goes(
    engine: AsyncEngine,
    fake: FakeWecom,
    make_relay: Callable[..., tuple[OutboxRelay, FixedClock]],
    failure: str,
) -> None:
    relay_, clock = make_relay()
    end = T0 + timedelta(seconds=OUTAGE_S)
    if failure == "errcode 45009":
        fake.outage(active=lambda: clock.now() < end, errcode=45009)
    else:
        fake.outage(active=lambda: clock.now() < end, kind="html502")
    n = 300
    await queue(
        engine,
        *[Outbound(platform="wecom", user_id=f"user{i}", text=f"消息 {i}") for i in range(n)],
        at=T0,
    )
    sends_during_outage = None
    for _ in range(MAX_TICKS):
        await run_tick(relay_)
        if clock.now() + timedelta(seconds=1) >= end and sends_during_outage is None:
            sends_during_outage = len(fake.calls_to("message/send"))
        if all(s[0] == DONE for s in (await outbox_states(engine)).values()):
            break
        clock.advance(seconds=1)
    # a storm would be a request per queued row per retry (hundreds); the platform pause
    # costs what was in flight (4) plus one probe per doubling pause (capped at 60 s)
    assert sends_during_outage is not None and sends_during_outage <= 16, sends_during_outage
    assert relay_.gate("wecom").trips >= 1
    assert delivered_texts(fake) == Counter(f"消息 {i}" for i in range(n))  # all, once each
    # capped backoff: nothing waited much past the end of the outage plus one capped pause
    assert clock.now() <= end + timedelta(seconds=60 + 5)
    failed_sends = len(fake.calls_to("message/send")) - len(fake.sent)
    assert failed_sends == sends_during_outage


async def test_a_poison_row_is_dead_lettered_while_a_thousand_others_are_delivered(
    engine: AsyncEngine, fake: FakeWecom, make_relay: Callable[..., tuple[OutboxRelay, FixedClock]]
) -> None:
    relay_, clock = make_relay(max_attempts=5)
    messages = [
        Outbound(platform="wecom", user_id=f"user{i % 500}", text=f"第{i}条", dedupe_key=f"m{i}")
        for i in range(1000)
    ]
    poison = Outbound(
        platform="wecom",
        user_id="poisoned",
        kind="card",
        card={"builder": "no_such_card", "args": {}},
        card_key="t1_poison",
        dedupe_key="poison",
    )
    after_poison = Outbound(platform="wecom", user_id="poisoned", text="毒后", dedupe_key="after")
    await queue(engine, *messages[:500], poison, after_poison, *messages[500:], at=T0)
    ticks_until_all_others = None
    for tick in range(MAX_TICKS):
        await run_tick(relay_)
        rows = await outbox_states(engine)
        others_done = all(rows[f"m{i}"][0] == DONE for i in range(1000))
        if others_done and ticks_until_all_others is None:
            ticks_until_all_others = tick
            # the poison's own recipient waits behind it (one person's messages in order)
            assert rows["after"][0] != DONE or rows["poison"][0] == DEAD
        if others_done and rows["poison"][0] == DEAD and rows["after"][0] == DONE:
            break
        clock.advance(seconds=1)
    else:
        raise AssertionError(f"not settled: {Counter(s[0] for s in rows.values())}")

    status, attempts, error = rows["poison"]
    assert (status, attempts) == (DEAD, 5)
    assert "no_such_card" in error and error.startswith("gave up: error:")
    assert ticks_until_all_others == 0  # the thousand went at once, not behind the poison
    sent = delivered_texts(fake)
    assert sent == Counter([f"第{i}条" for i in range(1000)] + ["毒后"])  # each exactly once
    assert [b["touser"] for b in fake.sent if "毒后" in b["text"]["content"]] == ["poisoned"]
