"""Deferred writes (core/deferred.py) on the real databases: a run of INSERTs goes out as one
statement (on PostgreSQL as multi-row INSERTs, not a statement per row) and the rows land in
the order they were held back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core import db
from core.deferred import Writes, executemany
from core.people.model import Person, PersonKind
from core.tickets.model import Ticket
from core.uow import SqlUnitOfWork

T0 = datetime(2025, 6, 10, 2, 0, tzinfo=UTC)


async def test_a_run_of_inserts_is_one_statement_in_order(migrated_engine: AsyncEngine) -> None:
    async with SqlUnitOfWork(migrated_engine) as uow:
        await uow.people.upsert(Person(id="c1", name="客户", kind=PersonKind.CUSTOMER), at=T0)
        assert await uow.tickets.next_id() == 1
        await uow.tickets.add(
            Ticket(id=1, type="repair", title="x", requester_id="c1", created_at=T0, updated_at=T0)
        )
        await uow.commit()
    rows = [
        {"ticket_id": 1, "at": T0, "actor_id": "c1", "actor_name": "客户", "channel": "api",
         "action": f"note{n}", "data": {"n": n}}
        for n in range(5)
    ]  # fmt: skip
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    writes = Writes()
    for row in rows:
        writes.add("ticket_history", "insert", executemany(insert(db.ticket_history)), row)
    h = db.ticket_history.c
    async with migrated_engine.begin() as conn:
        event.listen(migrated_engine.sync_engine, "before_cursor_execute", record)
        try:
            await writes.flush(conn)
        finally:
            event.remove(migrated_engine.sync_engine, "before_cursor_execute", record)
        found = (await conn.execute(select(h.action, h.data).order_by(h.id))).all()
    assert len(sent) == 1 and sent[0].lstrip().upper().startswith("INSERT INTO TICKET_HISTORY")
    assert [(a, d) for a, d in found if a.startswith("note")] == [
        (f"note{n}", {"n": n}) for n in range(5)
    ]
    if migrated_engine.dialect.name == "postgresql":
        assert sent[0].count("VALUES") == 1 and sent[0].count("), (") == 4  # one multi-row
