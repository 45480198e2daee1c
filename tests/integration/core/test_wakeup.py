"""Wake-ups on commit (core/wake.py, bot/wakeup.py): a committed outbox or inbox row wakes its
subscribers; a rolled-back or duplicate one does not; on PostgreSQL the listener survives the
loss of its connection."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.inbound import ChatMessage, MessageKind
from bot.wakeup import APPLICATION_NAME, Wakeup
from core import db, inbox, outbox
from core.clock import FixedClock
from core.messages import Outbound
from webhooks.bootstrap import migrate
from webhooks.inbox_writer import InboxWriter

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WAIT_S = 10.0  # a bound on each wait, not a speed claim


class Woken:
    """Counts calls and lets a test wait for the next one."""

    def __init__(self) -> None:
        self.calls = 0
        self.event = asyncio.Event()

    def __call__(self) -> None:
        self.calls += 1
        self.event.set()

    async def next(self) -> None:
        await asyncio.wait_for(self.event.wait(), WAIT_S)
        self.event.clear()


@pytest.fixture
async def started(
    migrated_engine: AsyncEngine, each_backend_url: str
) -> AsyncIterator[tuple[Wakeup, Woken, Woken]]:
    wakeup = Wakeup(each_backend_url, reconnect_base_s=0.05, reconnect_cap_s=0.2)
    outbox_woken, inbox_woken = Woken(), Woken()
    wakeup.subscribe("outbox", outbox_woken)
    wakeup.subscribe("inbox", inbox_woken)
    await wakeup.start()
    if wakeup.postgres:
        await asyncio.wait_for(wakeup.connected.wait(), WAIT_S)
        await outbox_woken.next()  # the call every subscriber gets on (re)connection
        await inbox_woken.next()
        outbox_woken.calls = inbox_woken.calls = 0
    yield wakeup, outbox_woken, inbox_woken
    await wakeup.close()


async def add(engine: AsyncEngine, key: str, *, commit: bool = True) -> None:
    async with engine.connect() as conn:
        msg = Outbound(platform="wecom", user_id="u1", text=key, dedupe_key=key)
        await outbox.add(conn, msg, at=T0)
        await (conn.commit() if commit else conn.rollback())


async def receive(engine: AsyncEngine, key: str) -> None:
    item = {"platform": "wecom", "dedupe_key": key, "kind": "message:text", "payload": {}}
    async with engine.begin() as conn:
        await inbox.insert_items(conn, [item], at=T0)


async def test_a_commit_wakes_its_channel_and_nothing_else(
    migrated_engine: AsyncEngine, started: tuple[Wakeup, Woken, Woken]
) -> None:
    _, outbox_woken, inbox_woken = started
    await add(migrated_engine, "m1")
    await outbox_woken.next()
    assert outbox_woken.calls == 1 and inbox_woken.calls == 0

    await add(migrated_engine, "rolled-back", commit=False)
    await add(migrated_engine, "m1")  # a duplicate adds no row
    await receive(migrated_engine, "in-1")  # delivered after anything committed before it
    await inbox_woken.next()
    assert outbox_woken.calls == 1 and inbox_woken.calls == 1

    await receive(migrated_engine, "in-1")  # a platform retry of the same callback
    await add(migrated_engine, "m2")
    await outbox_woken.next()
    assert outbox_woken.calls == 2 and inbox_woken.calls == 1


async def test_one_transaction_wakes_once(
    migrated_engine: AsyncEngine, started: tuple[Wakeup, Woken, Woken]
) -> None:
    _, outbox_woken, _ = started
    async with migrated_engine.begin() as conn:
        for i in range(5):
            await outbox.add(conn, Outbound(platform="wecom", user_id=f"u{i}", text="x"), at=T0)
    await outbox_woken.next()
    await receive(migrated_engine, "fence")  # whatever the first commit sent has arrived
    await started[2].next()
    assert outbox_woken.calls == 1


async def test_rows_queued_together_wake_once_and_duplicates_not_at_all(
    migrated_engine: AsyncEngine, started: tuple[Wakeup, Woken, Woken]
) -> None:
    """``outbox.add_many`` (the deferred writes of a scan): on PostgreSQL the notification is
    in the INSERT's RETURNING clause, once per new row, and arrives once."""
    _, outbox_woken, inbox_woken = started
    msgs = [
        Outbound(platform="wecom", user_id=f"u{i}", text="x", dedupe_key=f"b{i}") for i in range(3)
    ]
    rows = [outbox.outbox_row(m, at=T0) for m in msgs]
    async with migrated_engine.begin() as conn:
        await outbox.add_many(conn, rows)
    await outbox_woken.next()
    async with migrated_engine.begin() as conn:
        await outbox.add_many(conn, rows)  # every row a duplicate: nothing new
    await receive(migrated_engine, "fence")  # whatever the commits before it sent has arrived
    await inbox_woken.next()
    assert outbox_woken.calls == 1
    async with migrated_engine.connect() as conn:
        keys = (await conn.execute(text("SELECT dedupe_key FROM outbox ORDER BY id"))).scalars()
        assert list(keys) == ["b0", "b1", "b2"]


async def test_a_stored_callback_wakes_the_inbox_worker(
    migrated_engine: AsyncEngine, started: tuple[Wakeup, Woken, Woken]
) -> None:
    """What the webhooks store (group commit, webhooks/inbox_writer.py) wakes the worker."""
    _, outbox_woken, inbox_woken = started
    writer = InboxWriter(migrated_engine, FixedClock(T0))
    message = ChatMessage(
        platform="wecom", dedupe_key="msg-1", user_id="u1", kind=MessageKind.TEXT, text="帮助"
    )
    try:
        assert await writer.store([message]) == 1
        await inbox_woken.next()
        assert await writer.store([message]) == 0  # the platform's retry: nothing new
        await add(migrated_engine, "fence")
        await outbox_woken.next()
        assert inbox_woken.calls == 1
    finally:
        await writer.stop()


async def test_subscribing_to_an_unknown_channel_is_refused(each_backend_url: str) -> None:
    with pytest.raises(ValueError, match="unknown wake-up channel"):
        Wakeup(each_backend_url).subscribe("tickets", lambda: None)  # type: ignore[arg-type]


async def _the_listener_reconnects_after_its_connection_is_killed(database_url: str) -> None:
    engine = db.make_engine(database_url)
    await migrate(engine)
    wakeup = Wakeup(database_url, reconnect_base_s=0.05, reconnect_cap_s=0.2)
    woken = Woken()
    wakeup.subscribe("outbox", woken)
    await wakeup.start()
    try:
        await woken.next()  # connected
        async with engine.begin() as conn:
            killed = await conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE application_name = :name AND datname = current_database()"),
                {"name": APPLICATION_NAME},
            )  # fmt: skip
            assert [r[0] for r in killed] == [True]
        await woken.next()  # the call after reconnecting
        assert wakeup.reconnects == 1
        await add(engine, "after-reconnect")
        await woken.next()
        assert woken.calls == 3
    finally:
        await wakeup.close()
        await engine.dispose()


if os.environ.get("CHATDESK_TEST_DATABASE_URL"):  # LISTEN/NOTIFY exists only on PostgreSQL
    test_the_listener_reconnects_after_its_connection_is_killed = (
        _the_listener_reconnects_after_its_connection_is_killed
    )
