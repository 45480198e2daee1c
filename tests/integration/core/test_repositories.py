"""Repositories, inbox and outbox on the real database: PostgreSQL when
CHATDESK_TEST_DATABASE_URL is set (and then SQLite as well), else SQLite."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core import db, inbox, outbox
from core.errors import Conflict
from core.messages import Actor, Channel, Outbound
from core.people.directory import identify
from core.people.model import Person, PersonKind
from core.queue import DEAD, DONE, PENDING, WORKING
from core.tickets.model import Priority, Ticket
from core.tickets.repository import TicketFilter
from core.tickets.workflow import Status
from core.uow import SqlUnitOfWork
from webhooks.bootstrap import migrate

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2025, 6, 10, 10, 0, 0, 123456, tzinfo=SH)  # microseconds survive the round trip

ZHANG = Person(
    id="zhang",
    name="张伟",
    kind=PersonKind.STAFF,
    roles=frozenset({"engineer"}),
    region="华东",
    skills=("注塑机", "空压机"),
    identities={"wecom": "zhangwei", "dingtalk": "0123456"},
)
LI = Person(id="li", name="李娜", kind=PersonKind.STAFF, roles=frozenset({"agent", "manager"}))
C1 = Person(id="cust-a", name="王先生", identities={"wecom": "wang-ext"})
C2 = Person(id="cust-b", name="赵女士", identities={"dingtalk": "zhao-ext"})


@pytest.fixture
async def engine(each_backend_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.make_engine(each_backend_url)
    await migrate(engine)
    async with SqlUnitOfWork(engine) as uow:
        for person in (ZHANG, LI, C1, C2):
            await uow.people.upsert(person, at=T0)
        await uow.commit()
    yield engine
    await engine.dispose()


def make_ticket(tid: int, **kwargs: Any) -> Ticket:
    values: dict[str, Any] = {
        "id": tid,
        "type": "repair",
        "title": f"注塑机报警 {tid}",
        "requester_id": "cust-a",
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(kwargs)
    return Ticket(**values)


async def add_tickets(engine: AsyncEngine, *tickets: Ticket) -> None:
    async with SqlUnitOfWork(engine) as uow:
        for ticket in tickets:
            assert await uow.tickets.next_id() == ticket.id
            await uow.tickets.add(ticket)
        await uow.commit()


def is_utc(at: datetime | None) -> bool:
    return at is not None and at.utcoffset() == timedelta(0)


# --- schema ------------------------------------------------------------------------------


async def test_migrations_create_every_table_and_seed_counters(engine: AsyncEngine) -> None:
    await migrate(engine)  # running again is harmless
    async with engine.connect() as conn:
        tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        counters = dict((await conn.execute(select(db.counters))).all())
    assert {t.name for t in db.metadata.sorted_tables} <= tables
    assert "alembic_version" in tables
    assert counters == {"ticket": 0, "customer": 0}


# --- tickets -----------------------------------------------------------------------------


async def test_ticket_and_history_round_trip(engine: AsyncEngine) -> None:
    customer = C1.actor(Channel.WECOM)
    ticket = make_ticket(
        1,
        description="E31 报警，停机",
        priority=Priority.HIGH,
        fields={"device": "A-1024", "photos": ["m1", "m2"], "count": 3, "note": "二楼"},
        channel="wecom",
        response_due_at=T0 + timedelta(hours=1),
        resolve_due_at=T0 + timedelta(days=2),
    )
    ticket.record(customer, T0, "opened", title=ticket.title, fields=ticket.fields)
    ticket.record(Actor.system(), T0 + timedelta(seconds=1), "note", text="自动分类：报修")
    await add_tickets(engine, ticket)
    assert ticket.new_history == []

    async with SqlUnitOfWork(engine) as uow:
        got = await uow.tickets.get(1)
    async with SqlUnitOfWork(engine) as uow:
        without = await uow.tickets.get(1, with_history=False)
    assert got is not None and without is not None
    assert without.history == []
    assert got.ref == "#1" and got.status is Status.NEW and got.priority is Priority.HIGH
    assert got.description == "E31 报警，停机"
    assert got.fields == {"device": "A-1024", "photos": ["m1", "m2"], "count": 3, "note": "二楼"}
    assert got.created_at == T0 and is_utc(got.created_at)
    assert got.response_due_at == T0 + timedelta(hours=1) and is_utc(got.response_due_at)
    assert got.resolve_due_at == T0 + timedelta(days=2)
    assert got.first_response_at is None and got.assignee_id is None
    assert got.version == 0
    assert got.history == ticket.history  # same entries, same order
    assert all(is_utc(e.at) for e in got.history)
    assert got.history[0].channel == "wecom" and got.history[0].actor_name == "王先生"
    assert got.history[1].actor_id == "system" and got.history[1].data == {"text": "自动分类：报修"}


async def test_unknown_ticket_is_none(engine: AsyncEngine) -> None:
    async with SqlUnitOfWork(engine) as uow:
        assert await uow.tickets.get(404) is None


async def test_naive_datetime_is_refused(engine: AsyncEngine) -> None:
    async with SqlUnitOfWork(engine) as uow:
        await uow.tickets.next_id()
        with pytest.raises(Exception, match="naive"):
            await uow.tickets.add(make_ticket(1, created_at=datetime(2025, 6, 10, 10)))


async def test_save_bumps_version_and_appends_history(engine: AsyncEngine) -> None:
    await add_tickets(engine, make_ticket(1))
    agent = LI.actor(Channel.WEB)
    async with SqlUnitOfWork(engine) as uow:
        ticket = await uow.tickets.get(1)
        assert ticket is not None
        ticket.assignee_id = "zhang"
        ticket.move_to(Status.ASSIGNED, actor=agent, at=T0 + timedelta(minutes=5))
        ticket.mark_first_response(T0 + timedelta(minutes=5))
        await uow.tickets.save(ticket)
        ticket.record(agent, T0 + timedelta(minutes=6), "note", text="已电话联系")
        await uow.tickets.save(ticket)
        await uow.commit()
    assert ticket.version == 2

    async with SqlUnitOfWork(engine) as uow:
        got = await uow.tickets.get(1)
    assert got is not None
    assert got.version == 2 and got.status is Status.ASSIGNED and got.assignee_id == "zhang"
    assert got.first_response_at == T0 + timedelta(minutes=5)
    assert got.updated_at == T0 + timedelta(minutes=6)
    assert [e.action for e in got.history] == ["status_changed", "note"]
    assert got.history[0].data == {"from": "new", "to": "assigned"}


async def test_rolled_back_unit_of_work_leaves_nothing(engine: AsyncEngine) -> None:
    async with SqlUnitOfWork(engine) as uow:
        await uow.tickets.add(make_ticket(await uow.tickets.next_id()))
        await uow.add_outbound(Outbound(platform="wecom", user_id="u", text="hi"), at=T0)
        assert await uow.mark_processed("src-1", at=T0)
        # no commit
    async with engine.connect() as conn:
        for table in (db.tickets, db.outbox, db.processed_commands):
            count = (await conn.execute(select(func.count()).select_from(table))).scalar()
            assert count == 0, table.name
        assert (
            await conn.execute(select(db.counters.c.value).where(db.counters.c.name == "ticket"))
        ).scalar() == 0


async def test_concurrent_change_is_a_conflict(engine: AsyncEngine) -> None:
    await add_tickets(engine, make_ticket(1))
    agent = LI.actor(Channel.WEB)
    other = db.make_engine(engine.url.render_as_string(hide_password=False))  # another process
    async with SqlUnitOfWork(engine) as slow:
        stale = await slow.tickets.get(1)
        assert stale is not None
        async with SqlUnitOfWork(other) as fast:
            fresh = await fast.tickets.get(1)
            assert fresh is not None
            fresh.move_to(Status.CANCELLED, actor=agent, at=T0)
            await fast.tickets.save(fresh)
            await fast.commit()
        stale.move_to(Status.RESOLVED, actor=agent, at=T0)
        with pytest.raises(Conflict) as err:
            await slow.tickets.save(stale)
        assert "#1" in err.value.message
    await other.dispose()
    async with SqlUnitOfWork(engine) as uow:
        got = await uow.tickets.get(1)
    assert got is not None
    assert got.status is Status.CANCELLED and got.version == 1
    assert [e.data["to"] for e in got.history] == ["cancelled"]


async def test_list_filters_and_pagination(engine: AsyncEngine) -> None:
    await add_tickets(
        engine,
        make_ticket(1),
        make_ticket(2, requester_id="cust-b", type="consult"),
        make_ticket(3, status=Status.ASSIGNED, assignee_id="zhang"),
        make_ticket(4, status=Status.CLOSED, assignee_id="zhang", requester_id="cust-b"),
        make_ticket(5, status=Status.ACCEPTED, assignee_id="zhang"),
    )

    async def ids(**kwargs: Any) -> tuple[list[int], int]:
        async with SqlUnitOfWork(engine) as uow:
            items, total = await uow.tickets.list(TicketFilter(**kwargs))
        return [t.id for t in items], total

    assert await ids() == ([5, 4, 3, 2, 1], 5)  # newest first
    assert await ids(status=["new"]) == ([2, 1], 2)
    assert await ids(status=["assigned", "accepted"]) == ([5, 3], 2)
    assert await ids(assignee_id="zhang") == ([5, 4, 3], 3)
    assert await ids(requester_id="cust-b") == ([4, 2], 2)
    assert await ids(type="consult") == ([2], 1)
    assert await ids(assignee_id="zhang", status=["closed"], requester_id="cust-b") == ([4], 1)
    assert await ids(assignee_id="nobody") == ([], 0)
    assert await ids(limit=2) == ([5, 4], 5)
    assert await ids(limit=2, offset=2) == ([3, 2], 5)
    assert await ids(limit=2, offset=4) == ([1], 5)
    assert await ids(limit=2, offset=10) == ([], 5)


async def test_ticket_numbers_have_no_gaps(engine: AsyncEngine) -> None:
    async with SqlUnitOfWork(engine) as uow:
        assert [await uow.tickets.next_id() for _ in range(3)] == [1, 2, 3]
        # rolled back: the numbers are given out again
    async with SqlUnitOfWork(engine) as uow:
        assert await uow.tickets.next_id() == 1


# --- people ------------------------------------------------------------------------------


async def test_people_upsert_get_and_identities(engine: AsyncEngine) -> None:
    async with SqlUnitOfWork(engine) as uow:
        zhang = await uow.people.get("zhang")
        assert zhang == ZHANG
        assert zhang is not None and zhang.is_staff
        assert (await uow.people.by_identity("wecom", "zhangwei")) == ZHANG
        assert (await uow.people.by_identity("dingtalk", "0123456")) == ZHANG
        assert await uow.people.by_identity("dingtalk", "zhangwei") is None  # other platform
        assert await uow.people.get("nobody") is None
        assert [p.id for p in await uow.people.staff()] == ["li", "zhang"]  # no customers


async def test_upsert_updates_an_existing_person(engine: AsyncEngine) -> None:
    changed = Person(
        id="zhang",
        name="张伟（组长）",
        kind=PersonKind.STAFF,
        roles=frozenset({"engineer", "manager"}),
        skills=("注塑机",),
        on_duty=False,
        max_open=3,
        identities={"wecom": "zhangwei"},
    )
    async with SqlUnitOfWork(engine) as uow:
        await uow.people.upsert(changed, at=T0 + timedelta(days=1))
        await uow.commit()
    async with SqlUnitOfWork(engine) as uow:
        got = await uow.people.get("zhang")
        rows = (await uow.conn.execute(select(func.count()).select_from(db.people))).scalar()
    assert got is not None
    assert got.name == "张伟（组长）" and got.roles == {"engineer", "manager"}
    assert got.on_duty is False and got.max_open == 3 and got.skills == ("注塑机",)
    assert got.identities == {"wecom": "zhangwei", "dingtalk": "0123456"}  # links are kept
    assert rows == 4


async def test_find_by_id_or_active_name(engine: AsyncEngine) -> None:
    async with SqlUnitOfWork(engine) as uow:
        assert (await uow.people.find("zhang")) == ZHANG
        assert (await uow.people.find("张伟")) == ZHANG
        assert await uow.people.find("张") is None
        await uow.people.deactivate_staff_except({"li"})
        assert await uow.people.find("张伟") is None  # by name: active people only
        by_id = await uow.people.find("zhang")
        assert by_id is not None and by_id.active is False
        assert [p.id for p in await uow.people.staff()] == ["li"]
        customer = await uow.people.get("cust-a")
        assert customer is not None and customer.active  # customers are not deactivated


async def test_link_moves_an_identity(engine: AsyncEngine) -> None:
    async with SqlUnitOfWork(engine) as uow:
        await uow.people.link("wecom", "zhangwei", "li", display_name="李娜", at=T0)
        await uow.people.link("wecom", "zhangwei", "li", display_name="李娜", at=T0)  # no-op
        await uow.commit()
    async with SqlUnitOfWork(engine) as uow:
        moved = await uow.people.by_identity("wecom", "zhangwei")
        li = await uow.people.get("li")
        zhang = await uow.people.get("zhang")
        links = (await uow.conn.execute(select(func.count()).select_from(db.identities))).scalar()
    assert moved is not None and moved.id == "li"
    assert li is not None and li.identities == {"wecom": "zhangwei"}
    assert zhang is not None and zhang.identities == {"dingtalk": "0123456"}
    assert links == 4  # zhang's two, C1's and C2's: moved, not copied


async def test_identify_registers_a_customer_once(engine: AsyncEngine) -> None:
    async def who(platform: str, user_id: str, name: str) -> Person:
        async with SqlUnitOfWork(engine) as uow:
            person = await identify(
                uow.people, uow.conn, platform=platform, user_id=user_id, display_name=name, at=T0
            )
            await uow.commit()
        return person

    first = await who("wecom", "new-user", "钱先生")
    assert first.id == "c1" and first.kind is PersonKind.CUSTOMER and first.name == "钱先生"
    again = await who("wecom", "new-user", "改了名字")
    assert again.id == "c1" and again.name == "钱先生"
    other = await who("dingtalk", "new-user", "")  # same id on another platform: someone else
    assert other.id == "c2" and other.name == "客户2"
    staff = await who("wecom", "zhangwei", "张伟")
    assert staff.id == "zhang" and staff.is_staff
    async with SqlUnitOfWork(engine) as uow:
        assert await uow.people.count_customers() == 4  # C1 and C2 from the fixture, plus two
        found = await uow.people.by_identity("wecom", "new-user")
    assert found is not None and found.id == "c1"


# --- the inbox ---------------------------------------------------------------------------


def item(key: str, platform: str = "wecom") -> dict[str, Any]:
    return {"platform": platform, "dedupe_key": key, "kind": "message", "payload": {"k": key}}


async def inbox_rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(db.inbox).order_by(db.inbox.c.id))
        return [dict(r._mapping) for r in rows]


async def claim_in(engine: AsyncEngine, at: datetime, **kwargs: Any) -> list[int]:
    async with engine.begin() as conn:
        return [r["id"] for r in await inbox.claim_inbox(conn, now=at, **kwargs)]


async def test_inbox_insert_is_deduplicated(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        assert await inbox.insert_items(conn, [item("m1"), item("m1")], at=T0) == 1
    async with engine.begin() as conn:
        assert await inbox.insert_items(conn, [item("m1"), item("m2")], at=T0) == 1
        assert await inbox.insert_items(conn, [item("m1", platform="dingtalk")], at=T0) == 1
        assert await inbox.insert_items(conn, [], at=T0) == 0
    rows = await inbox_rows(engine)
    assert [(r["platform"], r["dedupe_key"]) for r in rows] == [
        ("wecom", "m1"),
        ("wecom", "m2"),
        ("dingtalk", "m1"),
    ]
    assert all(r["status"] == PENDING and r["attempts"] == 0 for r in rows)
    assert rows[0]["payload"] == {"k": "m1"} and is_utc(rows[0]["received_at"])


async def test_inbox_claim_holds_a_lease(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await inbox.insert_items(conn, [item("m1"), item("m2")], at=T0)
    first = await claim_in(engine, T0, lease_s=60)
    assert len(first) == 2
    rows = await inbox_rows(engine)
    assert all(r["status"] == WORKING and r["attempts"] == 1 for r in rows)
    assert await claim_in(engine, T0) == []
    assert await claim_in(engine, T0 + timedelta(seconds=59)) == []  # still leased
    again = await claim_in(engine, T0 + timedelta(seconds=60), lease_s=60)  # the worker died
    assert again == first
    assert [r["attempts"] for r in await inbox_rows(engine)] == [2, 2]


async def test_inbox_claim_respects_limit_and_order(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await inbox.insert_items(conn, [item("late")], at=T0 + timedelta(seconds=5))
        await inbox.insert_items(conn, [item("a"), item("b")], at=T0)
    later = T0 + timedelta(seconds=10)
    first = await claim_in(engine, later, limit=2)
    rest = await claim_in(engine, later, limit=2)
    rows = {r["id"]: r["dedupe_key"] for r in await inbox_rows(engine)}
    assert [rows[i] for i in first] == ["a", "b"] and [rows[i] for i in rest] == ["late"]
    assert await claim_in(engine, T0) == []  # nothing is due before it was received


async def test_inbox_done_failed_and_dead(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await inbox.insert_items(conn, [item("ok"), item("flaky"), item("bad")], at=T0)
    ok, flaky, bad = await claim_in(engine, T0)
    async with engine.begin() as conn:
        await inbox.mark_done(conn, ok, at=T0 + timedelta(seconds=1))
        await inbox.mark_failed(conn, flaky, error="boom", retry_at=T0 + timedelta(seconds=300))
        await inbox.mark_failed(conn, bad, error="x" * 5000, retry_at=None)
    rows = {r["id"]: r for r in await inbox_rows(engine)}
    assert rows[ok]["status"] == DONE and rows[ok]["processed_at"] == T0 + timedelta(seconds=1)
    assert rows[flaky]["status"] == PENDING and rows[flaky]["error"] == "boom"
    assert rows[bad]["status"] == DEAD and len(rows[bad]["error"]) == 2000
    assert await claim_in(engine, T0 + timedelta(seconds=299)) == []
    assert await claim_in(engine, T0 + timedelta(seconds=300)) == [flaky]
    assert await claim_in(engine, T0 + timedelta(days=30)) == [flaky]  # lease ran out
    # done and dead rows are never claimed again
    assert set(await claim_in(engine, T0 + timedelta(days=60))) == {flaky}


# --- the outbox --------------------------------------------------------------------------


def msg(text: str = "您好", **kwargs: Any) -> Outbound:
    kwargs.setdefault("user_id", "u1")
    return Outbound(platform="wecom", text=text, **kwargs)


async def outbox_rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(db.outbox).order_by(db.outbox.c.id))
        return [dict(r._mapping) for r in rows]


async def claim_out(engine: AsyncEngine, at: datetime, **kwargs: Any) -> list[int]:
    async with engine.begin() as conn:
        return [r["id"] for r in await outbox.claim_outbox(conn, now=at, **kwargs)]


async def test_outbox_add_is_deduplicated(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        assert await outbox.add(conn, msg(dedupe_key="t1:opened"), at=T0)
        assert not await outbox.add(conn, msg("另一段文字", dedupe_key="t1:opened"), at=T0)
        # without a key, the content is the key
        assert await outbox.add(conn, msg("自动"), at=T0)
        assert not await outbox.add(conn, msg("自动"), at=T0)
        assert await outbox.add(conn, msg("自动", user_id="u2"), at=T0)
    async with SqlUnitOfWork(engine) as uow:  # through the unit of work, committed
        await uow.add_outbound(msg(dedupe_key="t1:opened"), at=T0)
        await uow.add_outbound(
            msg(
                "卡片",
                kind="card",
                card={"key": "t1_assign"},
                card_key="t1_assign",
                ticket_id=1,
                extra={"why": "x"},
            ),
            at=T0,
        )
        await uow.commit()
    rows = await outbox_rows(engine)
    assert [r["payload"]["text"] for r in rows] == ["您好", "自动", "自动", "卡片"]
    assert rows[0]["dedupe_key"] == "t1:opened"
    assert rows[1]["dedupe_key"].startswith("auto:")
    card = rows[3]
    assert card["kind"] == "card" and card["card_key"] == "t1_assign" and card["ticket_id"] == 1
    assert card["payload"] == {
        "text": "卡片",
        "card": {"key": "t1_assign"},
        "coalesce": True,
        "why": "x",
    }
    assert all(r["status"] == PENDING and r["attempts"] == 0 for r in rows)


async def test_outbox_claim_and_marks(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await outbox.add(conn, msg("a", dedupe_key="a", user_id="ua"), at=T0)
        await outbox.add(conn, msg("b", dedupe_key="b", user_id="ub"), at=T0)
        await outbox.add(conn, msg("c", dedupe_key="c", user_id="uc"), at=T0)
        await outbox.add(
            conn,
            msg("later", dedupe_key="later", user_id="u-later"),
            at=T0,
            due_at=T0 + timedelta(hours=1),
        )
        assert await outbox.pending_count(conn) == 4
    a, b, c = await claim_out(engine, T0, lease_s=120)
    assert await claim_out(engine, T0 + timedelta(seconds=119)) == []
    async with engine.begin() as conn:
        await outbox.mark_sent(conn, [a], at=T0 + timedelta(seconds=1))
        await outbox.mark_retry(
            conn, b, error="retryable: 45009", due_at=T0 + timedelta(seconds=30)
        )
        await outbox.mark_dead(conn, c, error="permanent: bad user")
        assert await outbox.pending_count(conn) == 3  # dead rows still count as not delivered
    rows = {r["id"]: r for r in await outbox_rows(engine)}
    assert rows[a]["status"] == DONE and rows[a]["sent_at"] == T0 + timedelta(seconds=1)
    assert rows[b]["status"] == PENDING and rows[b]["error"] == "retryable: 45009"
    assert rows[b]["due_at"] == T0 + timedelta(seconds=30) and rows[b]["attempts"] == 1
    assert rows[c]["status"] == DEAD and rows[c]["error"] == "permanent: bad user"
    assert await claim_out(engine, T0 + timedelta(seconds=29)) == []
    assert await claim_out(engine, T0 + timedelta(seconds=30), lease_s=7200) == [b]
    later = next(r["id"] for r in rows.values() if r["dedupe_key"] == "later")
    assert await claim_out(engine, T0 + timedelta(hours=1)) == [later]
    assert (await outbox_rows(engine))[1]["attempts"] == 2


# --- several claimers (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: one connection a process) -


async def test_a_claimer_takes_only_rows_another_does_not_hold(engine: AsyncEngine) -> None:
    """PostgreSQL: a second claimer skips the rows a first one holds (SKIP LOCKED) at once.
    SQLite (one claimer by design, core/queue.py): the process has one connection, so the
    second claimer waits until the first commits, then takes only what is left."""
    async with engine.begin() as conn:
        for i in range(6):  # to six people (one person's rows are claimed in order)
            await outbox.add(conn, msg(str(i), dedupe_key=f"k{i}", user_id=f"u{i}"), at=T0)

    async def claim_rest() -> list[dict[str, Any]]:
        async with engine.begin() as conn:
            return await outbox.claim_outbox(conn, now=T0, limit=4)

    async with engine.begin() as one:
        mine = await outbox.claim_outbox(one, now=T0, limit=4)
        second = asyncio.create_task(claim_rest())
        if db.is_sqlite(engine):
            await asyncio.sleep(0.5)
            assert not second.done()  # waiting for the one connection
        else:  # the first transaction is still open: skipped, not waited for
            await asyncio.wait_for(asyncio.shield(second), timeout=20)
    theirs = await asyncio.wait_for(second, timeout=20)
    assert len(mine) == 4 and len(theirs) == 2
    assert not {r["id"] for r in mine} & {r["id"] for r in theirs}


@pytest.mark.parametrize("which", ["inbox", "outbox"])
async def test_concurrent_claimers_never_share_a_row(engine: AsyncEngine, which: str) -> None:
    n = 60
    async with engine.begin() as conn:
        if which == "inbox":
            await inbox.insert_items(conn, [item(f"m{i}") for i in range(n)], at=T0)
        else:
            for i in range(n):
                await outbox.add(conn, msg(str(i), dedupe_key=f"k{i}", user_id=f"u{i}"), at=T0)
    claim = inbox.claim_inbox if which == "inbox" else outbox.claim_outbox

    async def claimer() -> list[int]:
        got: list[int] = []
        while True:
            async with engine.begin() as conn:
                rows = await claim(conn, now=T0, limit=3)
            if not rows:
                return got
            got.extend(r["id"] for r in rows)

    results = await asyncio.gather(*(claimer() for _ in range(4)))
    every = [i for ids in results for i in ids]
    assert len(every) == len(set(every)) == n
    rows = await (inbox_rows if which == "inbox" else outbox_rows)(engine)
    assert all(r["attempts"] == 1 for r in rows)
