"""One person's outbox rows are claimed in order (core/outbox.py claim_outbox): a later row
waits while an earlier one is in flight or waiting for a retry; other people never wait."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from core import db, outbox
from core.messages import Outbound
from webhooks.bootstrap import migrate

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def add(engine: AsyncEngine, key: str, user: str, due: datetime = T0) -> int:
    async with engine.begin() as conn:
        msg = Outbound(platform="wecom", user_id=user, text=key, dedupe_key=key)
        await outbox.add(conn, msg, at=T0, due_at=due)
        rows = await conn.execute(db.outbox.select().where(db.outbox.c.dedupe_key == key))
        return int(rows.one().id)


async def claim(engine: AsyncEngine, at: datetime, limit: int = 20) -> list[str]:
    async with engine.begin() as conn:
        rows = await outbox.claim_outbox(conn, now=at, limit=limit, lease_s=60)
    return [r["dedupe_key"] for r in rows]


async def test_a_later_row_waits_for_an_earlier_one_in_flight_or_retrying(
    migrated_engine: AsyncEngine,
) -> None:
    engine = migrated_engine
    await add(engine, "u1-first", "u1")
    assert await claim(engine, T0) == ["u1-first"]  # in flight now, under a 60 s lease
    await add(engine, "u1-second", "u1")
    other = await add(engine, "u2-only", "u2")
    assert await claim(engine, T0) == ["u2-only"]  # u1's second waits for its first
    async with engine.begin() as conn:
        await outbox.mark_sent(conn, [other], at=T0)

    first = await add(engine, "u1-first", "u1")  # (already there: its id)
    async with engine.begin() as conn:
        await outbox.mark_retry(conn, first, error="retryable", due_at=T0 + timedelta(minutes=5))
    assert await claim(engine, T0 + timedelta(seconds=30)) == []  # still behind the retry
    assert await claim(engine, T0 + timedelta(minutes=5)) == ["u1-first", "u1-second"]


async def test_a_row_scheduled_for_later_holds_nobody_back(migrated_engine: AsyncEngine) -> None:
    engine = migrated_engine
    await add(engine, "reminder", "u1", due=T0 + timedelta(days=1))
    await add(engine, "now", "u1")
    assert await claim(engine, T0) == ["now"]


async def test_a_lapsed_lease_or_a_dead_row_lets_the_next_go(migrated_engine: AsyncEngine) -> None:
    engine = migrated_engine
    first = await add(engine, "first", "u1")
    assert await claim(engine, T0) == ["first"]
    await add(engine, "second", "u1")
    # the relay holding "first" died: once its lease lapses both are due again, in order
    assert await claim(engine, T0 + timedelta(seconds=61)) == ["first", "second"]
    async with engine.begin() as conn:
        await outbox.mark_dead(conn, first, error="permanent")
    assert await claim(engine, T0 + timedelta(seconds=200)) == ["second"]


async def _a_claimer_never_takes_a_later_row_whose_earlier_one_is_being_claimed(
    database_url: str,
) -> None:
    engine = db.make_engine(database_url)
    await migrate(engine)
    try:
        for key in ("u1-a", "u2-a", "u1-b", "u3-a"):
            await add(engine, key, key.split("-")[0])
        async with engine.connect() as one, engine.connect() as two:
            await one.begin()
            mine = await outbox.claim_outbox(one, now=T0, limit=1)  # u1-a, still uncommitted
            await two.begin()
            theirs = await asyncio.wait_for(outbox.claim_outbox(two, now=T0, limit=10), 20)
            await one.commit()
            await two.commit()
        assert [r["dedupe_key"] for r in mine] == ["u1-a"]
        assert [r["dedupe_key"] for r in theirs] == ["u2-a", "u3-a"]  # not u1-b
    finally:
        await engine.dispose()


if os.environ.get("CHATDESK_TEST_DATABASE_URL"):  # concurrent claimers exist on PostgreSQL only
    test_a_claimer_never_takes_a_later_row_whose_earlier_one_is_being_claimed = (
        _a_claimer_never_takes_a_later_row_whose_earlier_one_is_being_claimed
    )
