"""What the fault tests find in the database before the servers start: tickets and offers
written as the core would have written them some time ago."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from core import db
from core.clock import FixedClock
from core.messages import Channel
from core.people.model import Person, PersonKind
from core.settings import DeskConfig
from core.tickets.commands import OpenTicket
from core.tickets.model import Ticket
from core.tickets.workflow import Status
from core.uow import SqlUnitOfWork
from tests.faults.desk import ASSETS, STAFF
from webhooks.bootstrap import build_bus, sync_directory


async def seed_resolved(engine: AsyncEngine, count: int, resolved_at: datetime) -> list[str]:
    """Tickets 1..count resolved by 张伟 at ``resolved_at``, each for its own WeCom customer
    (c1, c2, ...), as the core would have stored them; returns the customers' user ids."""
    zhang = Person(id="zhang", name="张伟", kind=PersonKind.STAFF, roles=frozenset({"engineer"}),
                   identities={"wecom": "zhang"})  # fmt: skip
    customers = [Person(id=f"c{i}", name=f"客户{i}", identities={"wecom": f"c{i}"})
                 for i in range(1, count + 1)]  # fmt: skip
    async with SqlUnitOfWork(engine) as uow:
        for person in (zhang, *customers):
            await uow.people.upsert(person, at=resolved_at)
        for i, customer in enumerate(customers, 1):
            ticket = Ticket(
                id=i, type="repair", title=f"漏油 {i}", requester_id=customer.id,
                assignee_id="zhang", status=Status.ACCEPTED, channel="wecom",
                created_at=resolved_at - timedelta(hours=5), updated_at=resolved_at,
            )  # fmt: skip
            ticket.move_to(Status.RESOLVED, actor=zhang.actor(Channel.WECOM), at=resolved_at,
                           summary="换了密封圈", photos=[])  # fmt: skip
            await uow.tickets.add(ticket)
        await uow.conn.execute(
            db.counters.update().where(db.counters.c.name == "ticket").values(value=count)
        )
        await uow.commit()
    return [f"c{i}" for i in range(1, count + 1)]


async def seed_offers(engine: AsyncEngine, count: int, at: datetime, timeout_minutes: int) -> None:
    """``count`` repair tickets opened at ``at`` by customer d1 and offered at once to an
    engineer by the real dispatch (the desk of ``desk_config`` with automatic dispatch)."""
    desk = DeskConfig.model_validate({
        "people": STAFF, "assets": ASSETS,
        "assignment": {"auto_dispatch": True, "accept_timeout_minutes": timeout_minutes},
    })  # fmt: skip
    await sync_directory(engine, desk, at)
    customer = Person(id="d1", name="客户d1", identities={"wecom": "d1"})
    async with SqlUnitOfWork(engine) as uow:
        await uow.people.upsert(customer, at=at)
        await uow.commit()
    bus = build_bus(engine, desk, FixedClock(at))
    actor = customer.actor(Channel.WECOM)
    for i in range(count):
        await bus.handle(OpenTicket(actor=actor, requester_id=customer.id, title=f"漏油 {i}",
                                    type="repair", fields={"device": "A-1024", "symptom": "漏油"}))  # fmt: skip
