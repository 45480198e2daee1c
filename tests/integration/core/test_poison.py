"""Inbox rows that can never succeed are dead-lettered at once, with one log line and, where
the sender is sound, a polite reply (issue #8 item 6). Real database, fixed clock."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import poison, texts
from bot.inbound import CardAction
from bot.worker import InboxWorker
from core import db, inbox
from core.clock import FixedClock
from core.queue import DEAD, DONE
from tests.integration.core.test_relay_and_worker import DESK, T0, engine
from webhooks.bootstrap import build_bus

__all__ = ["engine"]  # the migrated, synced database fixture, shared with the worker tests


@pytest.fixture
def worker(engine: AsyncEngine) -> InboxWorker:
    return InboxWorker(
        engine=engine, bus=build_bus(engine, DESK, FixedClock(T0)), action_secret=b"k"
    )


async def store_raw(engine: AsyncEngine, payload: dict[str, Any], key: str = "k1") -> None:
    async with engine.begin() as conn:
        row = {"platform": "wecom", "dedupe_key": key, "kind": "x", "payload": payload}
        await inbox.insert_items(conn, [row], at=T0)


async def rows(engine: AsyncEngine, table: Any) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(select(table).order_by(table.c.id))]


async def test_a_payload_that_cannot_load_is_dead_at_once_and_the_sender_is_answered(
    engine: AsyncEngine, worker: InboxWorker, caplog: pytest.LogCaptureFixture
) -> None:
    await store_raw(engine, {"type": "card_action", "platform": "wecom", "user_id": "zhangwei"})
    with caplog.at_level(logging.WARNING, logger="bot.worker"):
        assert await worker.run_once() == 1
    [row] = await rows(engine, db.inbox)
    assert row["status"] == DEAD and row["attempts"] == 1 and "ValidationError" in row["error"]
    assert await worker.run_once() == 0  # not retried
    [reply] = await rows(engine, db.outbox)
    assert reply["user_id"] == "zhangwei" and reply["payload"]["text"] == texts.CANNOT_PROCESS
    [record] = [r for r in caplog.records if r.name == "bot.worker"]
    assert "dead-lettered" in record.getMessage() and record.exc_info is None
    assert "\n" not in record.getMessage()


async def test_a_nul_user_id_is_dead_at_once_without_a_reply(
    engine: AsyncEngine, worker: InboxWorker
) -> None:
    """Stored before ids were checked at the door; on PostgreSQL it could never be processed."""
    payload = {
        "type": "message", "platform": "wecom", "dedupe_key": "m1", "user_id": "u\x00x",
        "kind": "text", "text": "帮助",
    }  # fmt: skip
    await store_raw(engine, payload)
    assert await worker.run_once() == 1
    [row] = await rows(engine, db.inbox)
    assert row["status"] == DEAD and row["attempts"] == 1 and "user id" in row["error"]
    assert await rows(engine, db.outbox) == []
    assert [p["id"] for p in await rows(engine, db.people) if p["kind"] == "customer"] == []


async def test_a_click_with_a_non_ascii_signature_is_answered_not_retried(
    engine: AsyncEngine, worker: InboxWorker
) -> None:
    click = CardAction(
        platform="wecom", dedupe_key="c1", user_id="zhangwei", card_key="t1_assign_1",
        action="v2.accept.1.t1_assign_1..9999999999.签名",
    )  # fmt: skip
    await store_raw(engine, click.model_dump(mode="json"))
    assert await worker.run_once() == 1
    [row] = await rows(engine, db.inbox)
    assert row["status"] == DONE and row["attempts"] == 1
    [reply] = await rows(engine, db.outbox)
    assert reply["payload"]["text"] == texts.CARD_NO_LONGER_VALID


def test_only_passing_trouble_is_worth_a_retry() -> None:
    assert poison.transient(OperationalError("SELECT 1", {}, Exception("database is locked")))
    assert poison.transient(ConnectionResetError()) and poison.transient(TimeoutError())
    assert poison.transient(IntegrityError("INSERT", {}, Exception("duplicate")))
    for permanent in (
        DataError("INSERT", {}, Exception("invalid byte sequence: 0x00")),
        TypeError("unsupported operand"),
        ValueError("bad"),
        KeyError("x"),
        poison.Poison("nope"),
    ):
        assert not poison.transient(permanent), permanent
