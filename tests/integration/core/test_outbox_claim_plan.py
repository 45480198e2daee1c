"""A claim with a backlog (the relay's, and the inbox worker's likewise) checks each due row for an unfinished earlier one to the same
recipient by an index probe (``ix_outbox_recipient_unfinished``), not by reading every
unfinished row per due row: with 3,000 replies queued (a burst of 300 callbacks a second) that
check had made each claim of 20 take over a second on PostgreSQL, and the relay sent 20 a second.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from core import db, inbox, outbox
from core.queue import DONE, PENDING
from webhooks.bootstrap import migrate

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
INDEX = "ix_outbox_recipient_unfinished"


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.make_engine(database_url)
    await migrate(engine)
    rows: list[dict[str, Any]] = []
    for i in range(5000):
        rows.append(
            {
                "dedupe_key": f"reply:{i}",
                "platform": "wecom",
                "user_id": f"u{i % 3000}",
                "conversation_id": "",
                "kind": "text",
                "card_key": "",
                "ticket_id": None,
                "payload": {"text": "您好", "card": None, "coalesce": True},
                "status": DONE if i < 2000 else PENDING,
                "attempts": 1 if i < 2000 else 0,
                "created_at": NOW - timedelta(seconds=5000 - i),
                "due_at": NOW - timedelta(seconds=5000 - i),
                "error": "",
            }
        )
    async with engine.begin() as conn:
        await conn.execute(insert(db.outbox), rows)
        await conn.execute(text("ANALYZE"))
    yield engine
    await engine.dispose()


async def claimed_with_plan(
    engine: AsyncEngine, claim: Callable[..., Awaitable[list[dict[str, Any]]]]
) -> tuple[list[str], str]:
    """The rows ``claim`` takes, and the plan of its statement with the earlier-row check."""
    captured: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        if "earlier" in statement and statement.lstrip().upper().startswith("SELECT"):
            captured.append((statement, params))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    async with engine.begin() as conn:
        rows = await claim(conn, now=NOW, limit=20)
    event.remove(engine.sync_engine, "before_cursor_execute", capture)
    [(statement, params)] = captured
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            plan = await conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, params)
            return [r["dedupe_key"] for r in rows], json.dumps(plan.scalar())
        details = await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)
        return [r["dedupe_key"] for r in rows], " | ".join(str(r[3]) for r in details)


async def test_the_claim_probes_the_recipient_index_and_takes_the_oldest(
    engine: AsyncEngine,
) -> None:
    keys, plan = await claimed_with_plan(engine, outbox.claim_outbox)
    assert keys == [f"reply:{i}" for i in range(2000, 2020)]
    assert INDEX in plan, plan


async def test_the_inbox_claim_probes_the_person_index(engine: AsyncEngine) -> None:
    """The inbox claim's check for an earlier unfinished row of the same person likewise."""
    async with engine.begin() as conn:
        await conn.execute(
            insert(db.inbox),
            [
                {"platform": "wecom", "dedupe_key": f"cb{i}", "kind": "message:text",
                 "payload": {"user_id": f"u{i % 2000}"}, "person_key": f"wecom:u{i % 2000}",
                 "status": PENDING, "attempts": 0, "received_at": NOW, "available_at": NOW,
                 "error": ""}
                for i in range(3000)
            ],
        )  # fmt: skip
        await conn.execute(text("ANALYZE"))
    keys, plan = await claimed_with_plan(engine, inbox.claim_inbox)
    assert keys == [f"cb{i}" for i in range(20)]
    assert "ix_inbox_person_unfinished" in plan, plan
