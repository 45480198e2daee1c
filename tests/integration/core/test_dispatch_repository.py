"""The dispatch repository (offers, the roster: load and last assignment) on SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core import db
from core.people.model import Person, PersonKind
from core.tickets.model import Ticket
from core.tickets.offers import Mode, Offer, OfferStatus
from core.tickets.workflow import Status
from core.uow import SqlUnitOfWork
from webhooks.bootstrap import migrate

PG = os.environ.get("CHATDESK_TEST_DATABASE_URL", "")
BACKENDS = ["database_url", "sqlite_url"] if PG else ["database_url"]
BACKEND_IDS = ["postgresql", "sqlite"] if PG else ["sqlite"]
T0 = datetime(2025, 6, 10, 2, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture(params=BACKENDS, ids=BACKEND_IDS)
def url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(request.param)


@pytest.fixture
async def engine(url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.make_engine(url)
    await migrate(engine)
    async with SqlUnitOfWork(engine) as uow:
        for pid in ("zhang", "wang", "c1"):
            kind = PersonKind.CUSTOMER if pid == "c1" else PersonKind.STAFF
            await uow.people.upsert(Person(id=pid, name=pid, kind=kind), at=T0)
        statuses = [Status.ASSIGNED, Status.ACCEPTED, Status.RESOLVED, Status.ASSIGNED]
        for n, (status, who) in enumerate(
            zip(statuses, ["zhang", "zhang", "zhang", "wang"], strict=True), 1
        ):
            assert await uow.tickets.next_id() == n
            await uow.tickets.add(
                Ticket(
                    id=n,
                    type="repair",
                    title="x",
                    requester_id="c1",
                    status=status,
                    assignee_id=who,
                    created_at=T0,
                    updated_at=T0,
                )
            )
        await uow.commit()
    yield engine
    await engine.dispose()


def offer(ticket: int, person: str, minutes: int, **kw: object) -> Offer:
    at = T0 + timedelta(minutes=minutes)
    return Offer(ticket_id=ticket, round=1, person_id=person, card_key=f"t{ticket}_assign_1",
                 mode=Mode.DIRECT, offered_at=at, assigned_at=at, **kw)  # type: ignore[arg-type]  # fmt: skip


async def test_offers_round_trip_load_and_last_assignment(engine: AsyncEngine) -> None:
    async with SqlUnitOfWork(engine) as uow:
        await uow.dispatch.add(offer(1, "zhang", 0))
        await uow.dispatch.add(offer(2, "zhang", 30))
        await uow.dispatch.add(offer(4, "wang", 10))
        await uow.commit()
    async with SqlUnitOfWork(engine) as uow:
        roster = await uow.dispatch.roster()
        assert [p.id for p in roster.staff] == ["wang", "zhang"]  # staff only, by id
        assert roster.loads == {"zhang": 2, "wang": 1}  # resolved ones do not count
        last = roster.last_assigned
        assert last == {"zhang": T0 + timedelta(minutes=30), "wang": T0 + timedelta(minutes=10)}
        assert all(at.utcoffset() == timedelta(0) for at in last.values())
        roster.assigned("wang", T0 + timedelta(hours=1))
        assert roster.loads["wang"] == 2 and last["wang"] == T0 + timedelta(hours=1)
        [o] = await uow.dispatch.for_ticket(1)
        assert (o.person_id, o.status, o.offered_at) == ("zhang", OfferStatus.OPEN, T0)
        o.status, o.closed_at, o.reason = OfferStatus.DECLINED, T0, "忙"
        await uow.dispatch.save(o)
        await uow.commit()
    async with SqlUnitOfWork(engine) as uow:
        [o] = await uow.dispatch.for_ticket(1)
        assert (o.status, o.reason, o.closed_at) == (OfferStatus.DECLINED, "忙", T0)
        due = await uow.dispatch.due(T0 + timedelta(minutes=15))
        assert [(d.ticket_id, d.person_id) for d in due] == [(4, "wang")]


async def test_the_roster_reads_people_as_the_directory_does_and_follows_changes(
    engine: AsyncEngine,
) -> None:
    """The roster reads its people as plain values (roles and skills decoded once per JSON
    text): they are the directory's people field for field, and a change shows at once."""
    zhang = Person(id="zhang", name="张伟", kind=PersonKind.STAFF, roles=frozenset({"engineer",
                   "manager"}), region="华东", skills=("注塑机", "空压机"), on_duty=False,
                   max_open=3, phone="138", identities={"wecom": "zw", "dingtalk": "0123"},
                   prefer_platform="dingtalk")  # fmt: skip
    async with SqlUnitOfWork(engine) as uow:
        await uow.people.upsert(zhang, at=T0)
        await uow.commit()
    async with SqlUnitOfWork(engine) as uow:
        roster = await uow.dispatch.roster()
        assert roster.staff == await uow.people.staff()  # the directory's own reading
        assert roster.staff[1] == zhang
        assert await uow.people.get("zhang") == zhang
    zhang.roles, zhang.skills, zhang.max_open = frozenset({"engineer"}), ("空压机",), 5
    async with SqlUnitOfWork(engine) as uow:
        await uow.people.upsert(zhang, at=T0)
        await uow.people.deactivate_staff_except({"zhang"})
        await uow.commit()
    async with SqlUnitOfWork(engine) as uow:
        roster = await uow.dispatch.roster()
        assert roster.staff == [zhang] == await uow.people.staff()
        await uow.people.get_many(["wang", "zhang", "nobody"])
        wang = await uow.people.get("wang")
        assert wang is not None and not wang.active and wang.roles == frozenset()
        assert await uow.people.get("nobody") is None


async def _two_scans(engine: AsyncEngine) -> None:
    async with SqlUnitOfWork(engine) as uow:
        await uow.dispatch.add(offer(1, "zhang", 0))
        await uow.dispatch.add(offer(4, "wang", 0))
        await uow.commit()
    later = T0 + timedelta(hours=1)
    async with SqlUnitOfWork(engine) as first, SqlUnitOfWork(engine) as second:
        held = await first.dispatch.due(later, limit=1)
        other = await asyncio.wait_for(second.dispatch.due(later), timeout=5)
    assert len(held) == 1 and len(other) == 1  # the second scan skips the locked offer
    assert {o.ticket_id for o in held + other} == {1, 4}


if PG:  # row locks are a PostgreSQL matter; on SQLite the database lock serialises writers

    async def test_a_concurrent_scan_skips_the_offers_another_one_holds(
        engine: AsyncEngine,
    ) -> None:
        if engine.dialect.name == "postgresql":
            await _two_scans(engine)
        else:
            async with SqlUnitOfWork(engine) as uow:
                assert await uow.dispatch.due(T0) == []
