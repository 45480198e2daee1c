"""SLA clocks on SQLite and PostgreSQL: stored when tickets change, claimed by concurrent scans
(row locks; SKIP LOCKED on PostgreSQL) so that every warning is marked, recorded and carded
once; a recomputation keeps the scan's marks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core import db
from core.bus import MessageBus
from core.clock import FixedClock
from core.handlers import BEFORE_COMMIT, COMMAND_HANDLERS, EVENT_HANDLERS
from core.messages import Actor, Channel
from core.people.model import Person, PersonKind
from core.settings import CalendarConfig, DeskConfig, TicketTypeConfig
from core.sla.clocks import compute
from core.sla.commands import ScanSla
from core.tickets.commands import AssignTicket, ChangePriority, OpenTicket
from core.uow import SqlUnitOfWork
from webhooks.bootstrap import migrate

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2025, 6, 20, 9, 0, tzinfo=SH)
ALWAYS = CalendarConfig(
    key="always",
    hours={d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
)
CONFIG = DeskConfig(
    calendars=[ALWAYS],
    assignment={"auto_dispatch": False},
    ticket_types=[
        TicketTypeConfig(
            key="repair",
            name="设备报修",
            sla={
                "normal": {"calendar": "always", "response_minutes": 4, "resolve_minutes": 600},
                "urgent": {"calendar": "always", "response_minutes": 2, "resolve_minutes": 60},
            },
        )
    ],
).with_platforms(("wecom",))
STAFF = [
    Person(id="zhang", name="张伟", kind=PersonKind.STAFF, roles=frozenset({"engineer"}),
           identities={"wecom": "zhangwei"}),
    Person(id="li", name="李娜", kind=PersonKind.STAFF, roles=frozenset({"agent"}),
           identities={"wecom": "lina"}),
    Person(id="kehu", name="客户", kind=PersonKind.CUSTOMER, identities={"wecom": "kehu"}),
]  # fmt: skip
N = 30


def bus(engine: AsyncEngine, at: datetime) -> MessageBus:
    return MessageBus(
        uow_factory=lambda: SqlUnitOfWork(engine),
        clock=FixedClock(at),
        config=CONFIG,
        command_handlers=dict(COMMAND_HANDLERS),
        event_handlers={k: list(v) for k, v in EVENT_HANDLERS.items()},
        before_commit=BEFORE_COMMIT,
    )


@pytest.fixture
async def engine(each_backend_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.make_engine(each_backend_url)
    await migrate(engine)
    async with SqlUnitOfWork(engine) as uow:
        for person in STAFF:
            await uow.people.upsert(person, at=T0)
        await uow.commit()
    b = bus(engine, T0)
    agent = STAFF[1].actor(Channel.API)
    for _ in range(N):
        ticket = await b.handle(
            OpenTicket(actor=agent, requester_id="kehu", title="注塑机报警", priority="normal")
        )
        await b.handle(AssignTicket(actor=agent, ticket_id=ticket.id, assignee_id="zhang"))
    yield engine
    await engine.dispose()


async def count(engine: AsyncEngine, stmt) -> int:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        return int((await conn.execute(stmt)).scalar() or 0)


async def test_clocks_are_stored_and_indexed_for_the_scan(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(select(db.sla_clocks).where(db.sla_clocks.c.ticket_id == 1))
        ).all()
    clocks = {r.name: r for r in rows}
    assert set(clocks) == {"response", "resolve"}
    assert clocks["response"].due_at == T0 + timedelta(minutes=4)
    assert clocks["response"].check_at == T0 + timedelta(minutes=3)  # 75 %: the warning


async def test_concurrent_scans_warn_each_ticket_exactly_once(engine: AsyncEngine) -> None:
    at = T0 + timedelta(minutes=3, seconds=1)
    results = await asyncio.gather(
        *(bus(engine, at).handle(ScanSla(actor=Actor.system())) for _ in range(3))
    )
    assert sum(results) >= N  # every due clock was claimed by some scan
    h = db.ticket_history.c
    warned = await count(engine, select(func.count()).where(h.action == "sla_warned"))
    distinct = await count(
        engine, select(func.count(func.distinct(h.ticket_id))).where(h.action == "sla_warned")
    )
    assert warned == distinct == N
    async with engine.connect() as conn:
        cards = (
            await conn.execute(
                select(db.outbox.c.payload).where(db.outbox.c.card_key.like("%slaw%"))
            )
        ).all()
    listed = [item["id"] for (payload,) in cards for item in payload["card"]["args"]["items"]]
    assert sorted(listed) == list(range(1, N + 1))  # each ticket on exactly one card
    assert all(len(p["card"]["args"]["items"]) <= 6 for (p,) in cards)
    # later scans find nothing until the breaches
    assert await bus(engine, at + timedelta(seconds=30)).handle(ScanSla(actor=Actor.system())) == 0
    assert (
        await bus(engine, T0 + timedelta(minutes=4, seconds=1)).handle(
            ScanSla(actor=Actor.system())
        )
        == N
    )
    breached = await count(engine, select(func.count()).where(h.action == "sla_breached"))
    assert breached == N


async def test_a_recomputation_keeps_the_marks(engine: AsyncEngine) -> None:
    at = T0 + timedelta(minutes=3, seconds=1)
    await bus(engine, at).handle(ScanSla(actor=Actor.system()))
    agent = STAFF[1].actor(Channel.API)
    await bus(engine, at).handle(ChangePriority(actor=agent, ticket_id=1, priority="urgent"))
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(db.sla_clocks).where(
                    db.sla_clocks.c.ticket_id == 1, db.sla_clocks.c.name == "response"
                )
            )
        ).one()
    assert row.due_at == T0 + timedelta(minutes=2)  # urgent: 2 minutes from the creation
    assert row.warned_at == at and row.check_at == row.due_at  # only the breach is left
    async with SqlUnitOfWork(engine) as uow:
        ticket = await uow.tickets.get(1)
        stored = await uow.sla.get(1)
    assert ticket is not None and ticket.response_due_at == row.due_at
    assert compute(ticket, CONFIG)["response"].due_at == stored["response"].due_at


async def test_summary_figures_attainment_per_target_and_tickets_at_risk(
    engine: AsyncEngine,
) -> None:
    from cards.actions import Signer
    from cards.summary import summary_card
    from core.sla.report import sla_figures
    from core.tickets.commands import AcceptTicket

    warn_at = T0 + timedelta(minutes=3, seconds=1)
    engineer = STAFF[0].actor(Channel.WECOM)
    await bus(engine, T0 + timedelta(minutes=1)).handle(AcceptTicket(actor=engineer, ticket_id=1))
    await bus(engine, warn_at).handle(ScanSla(actor=Actor.system()))
    async with engine.connect() as conn:
        warned = await sla_figures(conn, T0, warn_at)
    assert warned["at_risk_total"] == N - 1  # #1 was accepted in time
    assert warned["at_risk"] == ["#2", "#3", "#4", "#5", "#6"]
    assert warned["sla_targets"] == [["响应", 1, 1]]
    late = T0 + timedelta(minutes=5)
    await bus(engine, late).handle(ScanSla(actor=Actor.system()))
    async with engine.connect() as conn:
        figures = await sla_figures(conn, T0, late)
    assert figures["sla_targets"] == [["响应", 1, N]] and figures["at_risk_total"] == 0
    card = summary_card({**figures, "period": "today"}, "k", Signer(b"k" * 32, "wecom:x", 0))
    shown = {f.label: f.value for f in card.fields}
    assert shown["SLA 响应"] == f"3%（1/{N}）" and shown["预警中"] == "0"
