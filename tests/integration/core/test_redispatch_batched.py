"""The accept-timeout scan on the real databases: deferring its writes (core/deferred.py) changes
nothing it writes, and what it costs in statements does not grow with the tickets it re-dispatches.

Each scan is rehearsed: it runs through the bus on a unit of work that, instead of committing,
reads back every row of the tables the scan writes and rolls back, so the same lapsed offers can
be re-dispatched twice from the same state: once writing at once (as before) and once deferring.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core import db
from core.bus import MessageBus
from core.clock import FixedClock
from core.handlers import BEFORE_COMMIT, COMMAND_HANDLERS, EVENT_HANDLERS
from core.messages import Actor, Channel
from core.people.directory import person_from_config
from core.people.model import Person, PersonKind
from core.settings import (
    AssetConfig,
    AssignmentConfig,
    CustomField,
    DeskConfig,
    FieldType,
    PersonConfig,
    TicketTypeConfig,
)
from core.tickets.commands import DeclineTicket, OpenTicket, ScanAssignments
from core.uow import SqlUnitOfWork
from webhooks.bootstrap import build_bus, sync_directory

T0 = datetime(2025, 6, 10, 2, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Shanghai
SYSTEM = Actor.system()

PEOPLE = [
    PersonConfig(id="e1", name="张伟", roles=["engineer"], region="华东", skills=["注塑机"],
                 wecom_userid="zhangwei"),
    PersonConfig(id="e2", name="王强", roles=["engineer"], region="华东",
                 skills=["注塑机", "空压机"], dingtalk_userid="0456"),
    PersonConfig(id="e3", name="赵六", roles=["engineer"], region="华南", skills=["注塑机"],
                 wecom_userid="zhaoliu", max_open=2),
    PersonConfig(id="e4", name="孙七", roles=["engineer"], region="华东", skills=["注塑机"],
                 wecom_userid="sunqi", dingtalk_userid="0789"),
    PersonConfig(id="li", name="李娜", roles=["agent"], wecom_userid="lina"),
    PersonConfig(id="boss", name="赵敏", roles=["manager"], wecom_userid="zhaomin"),
]  # fmt: skip
FIELDS = [CustomField(key="device", label="设备编号", type=FieldType.ASSET)]
CONFIG = DeskConfig(
    people=PEOPLE,
    ticket_types=[
        TicketTypeConfig(key="repair", name="设备报修", skills=["注塑机"], fields=FIELDS),
        TicketTypeConfig(key="compressor", name="空压机", skills=["空压机"], fields=FIELDS),
    ],
    assets=[AssetConfig(id="A-1024", region="华东"), AssetConfig(id="B-2048", region="华南")],
    assignment=AssignmentConfig(accept_timeout_minutes=15),
).with_platforms(("wecom", "dingtalk"))


@dataclass
class Rehearsal:
    """A unit of work factory whose units read back what they wrote instead of committing."""

    engine: AsyncEngine
    defer: bool
    read_back: bool = True
    state: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def __call__(self) -> SqlUnitOfWork:
        rehearsal = self

        class Uow(SqlUnitOfWork):
            def defer_writes(self) -> None:
                if rehearsal.defer:
                    super().defer_writes()

            async def commit(self) -> None:
                await self.flush()
                if rehearsal.read_back:
                    rehearsal.state = await written(self.conn)
                await self.rollback()
                self._committed = True

        return Uow(self.engine)


async def written(conn: Any) -> dict[str, list[dict[str, Any]]]:
    """Every row of the tables the scan writes (generated ids left out, rows in their order)."""
    out = {}
    for table, order in (
        (db.tickets, [db.tickets.c.id]),
        (db.ticket_history, [db.ticket_history.c.ticket_id, db.ticket_history.c.id]),
        (db.offers, [db.offers.c.ticket_id, db.offers.c.id]),
        (db.outbox, [db.outbox.c.id]),
        (db.sla_clocks, [db.sla_clocks.c.ticket_id, db.sla_clocks.c.name]),
    ):
        columns = [c for c in table.c if not (c.name == "id" and table is not db.tickets)]
        rows = await conn.execute(select(*columns).order_by(*order))
        out[table.name] = [dict(r._mapping) for r in rows]
    return out


def actor(person_id: str) -> Actor:
    cfg = next(p for p in PEOPLE if p.id == person_id)
    return person_from_config(cfg).actor(Channel.WECOM)


async def desk(engine: AsyncEngine, config: DeskConfig = CONFIG) -> tuple[MessageBus, FixedClock]:
    await sync_directory(engine, config, T0)
    async with SqlUnitOfWork(engine) as uow:
        for n in (1, 2):
            customer = Person(id=f"c{n}", name=f"客户{n}", kind=PersonKind.CUSTOMER,
                              identities={"wecom": f"cust{n}"})  # fmt: skip
            await uow.people.add_customer(customer, at=T0)
        await uow.commit()
    clock = FixedClock(T0)
    return build_bus(engine, config, clock), clock


async def report(bus: MessageBus, n: int, type_: str = "repair", device: str = "A-1024") -> None:
    await bus.handle(
        OpenTicket(
            actor=Actor(person_id=f"c{1 + n % 2}", name="客户", channel=Channel.WECOM),
            requester_id=f"c{1 + n % 2}",
            title=f"注塑机报警 {n}",
            type=type_,
            fields={"device": device},
            reply_platform="wecom",
            reply_user_id=f"cust{1 + n % 2}",
        )
    )


def scan_with(
    engine: AsyncEngine, clock: FixedClock, *, defer: bool, read_back: bool = True
) -> tuple[MessageBus, Rehearsal]:
    rehearsal = Rehearsal(engine, defer, read_back)
    bus = MessageBus(
        uow_factory=rehearsal,
        clock=clock,
        config=CONFIG,
        command_handlers=dict(COMMAND_HANDLERS),
        event_handlers={k: list(v) for k, v in EVENT_HANDLERS.items()},
        before_commit=BEFORE_COMMIT,
    )
    return bus, rehearsal


async def test_deferring_the_scans_writes_changes_nothing_it_writes(
    migrated_engine: AsyncEngine,
) -> None:
    bus, clock = await desk(migrated_engine)
    for n in range(6):
        await report(bus, n)
    await report(bus, 6, device="B-2048")  # 华南: e3 first, then anyone
    await report(bus, 7, type_="compressor")  # only e2 can: nobody is left after the lapse
    clock.advance(minutes=3)
    await report(bus, 8)
    async with migrated_engine.connect() as conn:
        holder = (
            await conn.execute(select(db.tickets.c.assignee_id).where(db.tickets.c.id == 9))
        ).scalar()
        before = await written(conn)
    await bus.handle(DeclineTicket(actor=actor(str(holder)), ticket_id=9, reason="在外地"))
    clock.advance(minutes=20)  # every open offer has lapsed
    results = []
    for defer in (False, True):
        scan, rehearsal = scan_with(migrated_engine, clock, defer=defer)
        assert await scan.handle(ScanAssignments(actor=SYSTEM, source="scan")) == 9
        results.append(rehearsal.state)
    at_once, deferred = results
    assert deferred == at_once
    # and it did what a re-dispatch does: lapsed cards updated, new cards, one escalation
    new = deferred["outbox"][len(before["outbox"]) + 2 :]  # after the decline's two rows
    kinds = [r["kind"] for r in new]
    assert kinds.count("card_update") == 9 and kinds.count("card") == 8
    escalated = {r["user_id"] for r in new if r["kind"] == "text" and "#8" in r["payload"]["text"]}
    assert escalated == {"lina", "zhaomin"}  # the compressor ticket: nobody else can take it
    by_id = {r["id"]: r for r in deferred["tickets"]}
    assert by_id[8]["status"] == "new" and by_id[8]["assignee_id"] is None
    assert all(by_id[i]["status"] == "assigned" for i in range(1, 10) if i != 8)
    assert len(deferred["ticket_history"]) > len(before["ticket_history"]) + 9


async def statements(engine: AsyncEngine, clock: FixedClock, expected: int, *, defer: bool) -> int:
    """The statements one rehearsed scan runs (the rehearsal reads nothing back here)."""
    bus, _ = scan_with(engine, clock, defer=defer, read_back=False)
    count = 0

    def one(*_: Any) -> None:
        nonlocal count
        count += 1

    event.listen(engine.sync_engine, "before_cursor_execute", one)
    try:
        assert await bus.handle(ScanAssignments(actor=SYSTEM, source="scan")) == expected
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", one)
    return count


async def test_re_dispatching_many_lapsed_offers_costs_what_one_does(
    migrated_engine: AsyncEngine,
) -> None:
    bus, clock = await desk(migrated_engine)
    await report(bus, 0)
    clock.advance(minutes=5)
    for n in range(1, 12):
        await report(bus, n)
    clock.advance(minutes=10)  # the first offer has lapsed
    one = await statements(migrated_engine, clock, 1, defer=True)
    clock.advance(minutes=5)  # and now all twelve
    many = await statements(migrated_engine, clock, 12, defer=True)
    at_once = await statements(migrated_engine, clock, 12, defer=False)
    # the processed mark; reads: the offers due, tickets, histories, offers, clocks, assets, the
    # roster, people; writes at the commit: a grouped statement per table and kind (offers
    # closed and offers made; on PostgreSQL the relay's NOTIFY rides the outbox INSERT)
    assert many == one <= 16
    assert at_once > 6 * 12  # the same scan writing at once: its writes, ticket by ticket


async def test_engineers_whose_offers_lapsed_are_free_for_the_other_tickets(
    migrated_engine: AsyncEngine,
) -> None:
    """The roster is read before the scan takes the tickets back: their loads go down with it."""
    two = CONFIG.model_copy(
        update={"people": [p.model_copy(update={"max_open": 1}) for p in PEOPLE[:2]] + PEOPLE[4:]}
    )
    bus, clock = await desk(migrated_engine, two)
    for n in range(2):
        await report(bus, n)
    t = db.tickets.c
    query = select(t.id, t.assignee_id, t.status).order_by(t.id)
    async with migrated_engine.connect() as conn:
        before = (await conn.execute(query)).all()
    assert sorted(who for _, who, _ in before) == ["e1", "e2"]  # each at their limit of one
    clock.advance(minutes=15)
    assert await bus.handle(ScanAssignments(actor=SYSTEM, source="scan")) == 2
    async with migrated_engine.connect() as conn:
        after = (await conn.execute(query)).all()
    swapped = {"e1": "e2", "e2": "e1"}
    assert after == [(i, swapped[who], "assigned") for i, who, _ in before]
