"""An inbox row's effects, dialog, reply and handled mark commit together (issue #8 item 9).

A real database trigger makes ending the person's dialog fail once, as a crash at that moment
would. Before, the decline had already committed and the dialog was cleared while the row was
still to be retried, so the retry decided it again without its dialog. Now nothing of the
first try survives, and the retry does everything exactly once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.worker import InboxWorker
from core import db
from core.clock import FixedClock
from core.messages import Actor, Channel
from core.queue import DONE
from core.tickets.commands import AssignTicket, OpenTicket
from tests.integration.core.test_relay_and_worker import DESK, T0, chat, engine, store
from webhooks.bootstrap import build_bus

__all__ = ["engine"]

SQLITE = [
    "CREATE TABLE crash (armed INTEGER NOT NULL)",
    "INSERT INTO crash VALUES (0)",
    """CREATE TRIGGER crash_on_dialog_end BEFORE DELETE ON dialogs
       WHEN (SELECT armed FROM crash) = 1
       BEGIN SELECT RAISE(ABORT, 'simulated crash'); END""",
]
POSTGRES = [
    "CREATE TABLE crash (armed INTEGER NOT NULL)",
    "INSERT INTO crash VALUES (0)",
    """CREATE FUNCTION crash_on_dialog_end() RETURNS trigger AS $$ BEGIN
         IF (SELECT armed FROM crash) = 1 THEN
           RAISE EXCEPTION 'simulated crash' USING ERRCODE = '23000';
         END IF; RETURN OLD; END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER crash_on_dialog_end BEFORE DELETE ON dialogs
       FOR EACH ROW EXECUTE FUNCTION crash_on_dialog_end()""",
]


@pytest.fixture
async def crash(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    pg = engine.dialect.name == "postgresql"
    async with engine.begin() as conn:
        for sql in POSTGRES if pg else SQLITE:
            await conn.exec_driver_sql(sql)
    yield engine
    async with engine.begin() as conn:  # the PostgreSQL test database outlives this test
        await conn.execute(text("DROP TRIGGER crash_on_dialog_end" + (" ON dialogs" if pg else "")))
        if pg:
            await conn.execute(text("DROP FUNCTION crash_on_dialog_end()"))
        await conn.execute(text("DROP TABLE crash"))


async def arm(engine: AsyncEngine, on: bool) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(f"UPDATE crash SET armed = {int(on)}"))


async def half_done(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.connect() as conn:
        history = await conn.execute(
            select(db.ticket_history.c.action).where(db.ticket_history.c.action == "declined")
        )
        dialogs = await conn.execute(select(db.dialogs))
        return len(history.all()), len(dialogs.all())


async def test_a_crash_while_ending_the_dialog_leaves_nothing_half_done(crash: AsyncEngine) -> None:
    engine, clock = crash, FixedClock(T0)
    bus = build_bus(engine, DESK, clock)
    worker = InboxWorker(engine=engine, bus=bus)
    agent = Actor(person_id="li", name="李娜", roles=frozenset({"agent"}), channel=Channel.API)
    ticket = await bus.handle(
        OpenTicket(actor=agent, requester_id="li", title="漏油", type="consult")
    )
    if ticket.assignee_id != "zhang":  # unless auto-dispatch already chose him
        await bus.handle(AssignTicket(actor=agent, ticket_id=ticket.id, assignee_id="zhang"))

    await store(engine, chat("拒单 #1", key="m1", user="zhangwei"))
    await worker.run_once()  # asks for the reason; the dialog waits for it
    await store(engine, chat("不在附近", key="m2", user="zhangwei"))
    await arm(engine, True)
    await worker.run_once()  # the dialog cannot be ended: the whole row rolls back
    await arm(engine, False)
    assert await half_done(engine) == (0, 1), "(declines, dialogs) after the failed try"
    clock.advance(minutes=5)
    await worker.run_once()  # the retry

    async with engine.connect() as conn:
        history = (
            (
                await conn.execute(
                    select(db.ticket_history.c.action).where(db.ticket_history.c.ticket_id == 1)
                )
            )
            .scalars()
            .all()
        )
        inbox = (await conn.execute(select(db.inbox.c.status))).scalars().all()
        replies = [
            r.payload["text"]
            for r in await conn.execute(select(db.outbox).order_by(db.outbox.c.id))
            if r.user_id == "zhangwei" and r.kind == "text"
        ]
    assert list(history).count("declined") == 1
    assert inbox == [DONE, DONE]
    assert any("#1" in r and "原因" in r for r in replies)  # the question, once
    assert not any("没有理解" in r or "描述" in r for r in replies), replies
    assert await half_done(engine) == (1, 0)
