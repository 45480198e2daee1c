"""Different people's messages are claimed together, one person's strictly in order
(issue #12 item 1): the claim takes each person's earliest unfinished row only."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.worker import InboxWorker
from core import db, inbox
from core.clock import FixedClock
from core.queue import DEAD, DONE
from tests.integration.core.test_relay_and_worker import (
    DESK,
    T0,
    chat,
    engine,
    replies_to,
    store,
)
from webhooks.bootstrap import build_bus

__all__ = ["engine"]


async def claim(engine: AsyncEngine, limit: int = 20) -> list[tuple[str, str]]:
    async with engine.begin() as conn:
        rows = await inbox.claim_inbox(conn, now=T0, limit=limit)
    return [(r["person_key"], r["dedupe_key"]) for r in rows]


async def finish(engine: AsyncEngine, *keys: str, status: str = DONE) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            update(db.inbox).where(db.inbox.c.dedupe_key.in_(keys)).values(status=status)
        )


async def test_one_claim_takes_each_persons_earliest_row(engine: AsyncEngine) -> None:
    await store(
        engine,
        chat("一", key="a1", user="ext-a"),
        chat("一", key="b1", user="ext-b"),
        chat("二", key="a2", user="ext-a"),
        chat("三", key="a3", user="ext-a"),
        chat("二", key="b2", user="ext-b"),
    )
    assert await claim(engine) == [("wecom:ext-a", "a1"), ("wecom:ext-b", "b1")]
    assert await claim(engine) == []  # both heads are being worked on: nothing else is free
    await finish(engine, "a1")
    assert await claim(engine) == [("wecom:ext-a", "a2")]
    await finish(engine, "b1", "a2")
    assert await claim(engine) == [("wecom:ext-a", "a3"), ("wecom:ext-b", "b2")]


async def test_a_dead_letter_does_not_hold_up_the_next_message(engine: AsyncEngine) -> None:
    await store(engine, chat("一", key="a1", user="ext-a"), chat("二", key="a2", user="ext-a"))
    assert await claim(engine) == [("wecom:ext-a", "a1")]
    await finish(engine, "a1", status=DEAD)
    assert await claim(engine) == [("wecom:ext-a", "a2")]


async def test_a_retry_later_holds_the_persons_next_message(engine: AsyncEngine) -> None:
    await store(engine, chat("一", key="a1", user="ext-a"), chat("二", key="a2", user="ext-a"))
    async with engine.begin() as conn:
        [row] = await inbox.claim_inbox(conn, now=T0)
        await inbox.mark_failed(conn, row["id"], error="busy", retry_at=T0 + timedelta(seconds=30))
    assert await claim(engine) == []  # a2 waits for a1's retry: order beats speed


async def test_replies_follow_the_order_of_the_messages(engine: AsyncEngine) -> None:
    worker = InboxWorker(engine=engine, bus=build_bus(engine, DESK, FixedClock(T0)), concurrency=4)
    await store(
        engine,
        *[
            chat("帮助" if i % 2 else "我的工单", key=f"m{i}", user=f"ext-{i % 3}")
            for i in range(9)
        ],
    )
    handled = 0
    for _ in range(20):  # bounded: three people, three messages each
        handled += await worker.run_once()
        if handled == 9:
            break
    assert handled == 9
    async with engine.connect() as conn:
        statuses = (await conn.execute(select(db.inbox.c.status))).scalars().all()
    assert set(statuses) == {DONE}
    for person in range(3):
        replies = await replies_to(engine, f"ext-{person}")
        keys = [int(r["dedupe_key"].split(":")[1]) for r in replies]
        assert keys == sorted(keys) and len(keys) == 3  # one reply each, in message order
