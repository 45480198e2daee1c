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


async def test_a_deferred_save_writes_what_differs_from_the_stored_row(
    migrated_engine: AsyncEngine,
) -> None:
    """A ticket saved while writes are deferred is written in the columns that differ from what
    the database holds (its fields always: a dict changed in place), also after a flush, when
    a column goes back to the value read."""
    async with SqlUnitOfWork(migrated_engine) as uow:
        await uow.people.upsert(Person(id="c1", name="客户", kind=PersonKind.CUSTOMER), at=T0)
        for n in (1, 2):
            assert await uow.tickets.next_id() == n
            await uow.tickets.add(
                Ticket(id=n, type="repair", title=f"t{n}", requester_id="c1", fields={"a": [1]},
                       created_at=T0, updated_at=T0)
            )  # fmt: skip
        await uow.commit()
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE TICKETS"):
            sent.append(" ".join(statement.split()))

    event.listen(migrated_engine.sync_engine, "before_cursor_execute", record)
    try:
        async with SqlUnitOfWork(migrated_engine) as uow:
            uow.defer_writes()
            one, two = await uow.tickets.get_many([1, 2], lock=True)
            one.title, two.title = "一", "二"
            two.fields["a"].append(2)  # in place
            await uow.tickets.save(one)
            await uow.tickets.save(two)
            await uow.flush()
            one.title, one.description = "t1", "备注"  # the title back to the value read
            await uow.tickets.save(one)
            await uow.commit()
    finally:
        event.remove(migrated_engine.sync_engine, "before_cursor_execute", record)
    assert len(sent) == 2
    assert sent[0].startswith("UPDATE tickets SET title=")
    assert "fields=" in sent[0] and "status=" not in sent[0] and "created_at=" not in sent[0]
    assert "title=" in sent[1] and "description=" in sent[1]
    t = db.tickets.c
    async with migrated_engine.connect() as conn:
        rows = (await conn.execute(select(t.title, t.description, t.fields, t.version))).all()
    assert sorted(tuple(r) for r in rows) == [
        ("t1", "备注", {"a": [1]}, 2),
        ("二", "", {"a": [1, 2]}, 1),
    ]
