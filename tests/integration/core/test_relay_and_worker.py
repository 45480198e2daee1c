"""The outbox relay (bot/delivery.py) against a recording platform, and the inbox worker
(bot/worker.py), both on the real database with a fixed clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.delivery import OutboxRelay, load_receipt, remember_response_code
from bot.inbound import ChatMessage, MessageKind
from bot.ports import AuthExpired, Receipt, Target
from bot.worker import InboxWorker
from cards.model import Button, ButtonStyle, Card
from core import db, inbox
from core.clock import FixedClock
from core.messages import Outbound
from core.people.model import PersonKind
from core.queue import DEAD, DONE, PENDING
from core.settings import DeskConfig, PersonConfig
from core.uow import SqlUnitOfWork
from tests.fakes.platform import RecordingPlatform
from webhooks.bootstrap import build_bus, migrate, sync_directory

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2025, 6, 10, 10, 0, tzinfo=SH)  # a Tuesday morning, office hours

DESK = DeskConfig(
    people=[
        PersonConfig(
            id="zhang", name="张伟", roles=["engineer"], skills=["注塑机"], wecom_userid="zhangwei"
        ),
        PersonConfig(id="li", name="李娜", roles=["agent"], dingtalk_userid="0123456"),
    ]
)


@dataclass
class ReceiptPlatform(RecordingPlatform):
    """The recording fake, also keeping the receipt each update was given."""

    updated_with: list[Receipt] = field(default_factory=list)

    async def update_card(self, receipt: Receipt, card: Card) -> Receipt:
        self.updated_with.append(receipt)
        return await super().update_card(receipt, card)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.make_engine(database_url)
    await migrate(engine)
    await sync_directory(engine, DESK, T0)
    yield engine
    await engine.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def wecom() -> ReceiptPlatform:
    return ReceiptPlatform(name="wecom")


@pytest.fixture
def dingtalk() -> ReceiptPlatform:
    return ReceiptPlatform(name="dingtalk")


@pytest.fixture
def relay(
    engine: AsyncEngine, clock: FixedClock, wecom: ReceiptPlatform, dingtalk: ReceiptPlatform
) -> OutboxRelay:
    return OutboxRelay(
        engine=engine,
        platforms={"wecom": wecom, "dingtalk": dingtalk},
        clock=clock,
        max_attempts=3,
    )


async def queue(engine: AsyncEngine, *messages: Outbound, at: datetime = T0) -> None:
    async with SqlUnitOfWork(engine) as uow:
        for m in messages:
            await uow.add_outbound(m, at=at)
        await uow.commit()


async def outbox_rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(db.outbox).order_by(db.outbox.c.id))
        return [dict(r._mapping) for r in rows]


def text(user: str, body: str, platform: str = "wecom", **kwargs: Any) -> Outbound:
    return Outbound(platform=platform, user_id=user, text=body, **kwargs)


def to(user: str, platform: str = "wecom", conversation: str = "") -> Target:
    return Target(platform=platform, user_id=user, conversation_id=conversation)


# --- the relay ---------------------------------------------------------------------------


async def test_delivers_texts_once(
    engine: AsyncEngine,
    relay: OutboxRelay,
    wecom: ReceiptPlatform,
    dingtalk: ReceiptPlatform,
    clock: FixedClock,
) -> None:
    await queue(engine, text("u1", "您好"), text("0123456", "收到", platform="dingtalk"))
    assert await relay.run_once() == 2
    assert wecom.sent == [("text", to("u1"), "您好")]
    assert dingtalk.sent == [("text", to("0123456", "dingtalk"), "收到")]
    rows = await outbox_rows(engine)
    assert [r["status"] for r in rows] == [DONE, DONE]
    assert all(r["sent_at"] == T0 for r in rows)
    clock.advance(hours=1)
    assert await relay.run_once() == 0
    assert len(wecom.sent) == 1 and len(dingtalk.sent) == 1


async def test_texts_to_one_person_are_coalesced(
    engine: AsyncEngine, relay: OutboxRelay, wecom: ReceiptPlatform
) -> None:
    await queue(
        engine,
        text("u1", "第一条"),
        text("u2", "给别人"),
        text("u1", "第二条"),
        text("u1", "群里", conversation_id="g1"),
        text("u1", "第三条"),
        text("u1", "单独发", coalesce=False),
    )
    assert await relay.run_once() == 6
    by_target: dict[Target, list[object]] = {}  # recipients are served concurrently
    for _, target, body in wecom.sent:
        by_target.setdefault(target, []).append(body)
    assert by_target == {
        to("u1"): ["第一条\n\n第二条\n\n第三条", "单独发"],  # one person's, in order
        to("u2"): ["给别人"],
        to("u1", conversation="g1"): ["群里"],
    }
    assert all(r["status"] == DONE for r in await outbox_rows(engine))


async def test_long_texts_are_not_coalesced_past_the_limit(
    engine: AsyncEngine, relay: OutboxRelay, wecom: ReceiptPlatform
) -> None:
    await queue(engine, text("u1", "甲" * 1000), text("u1", "乙" * 1000))
    await relay.run_once()
    assert [body for _, _, body in wecom.sent] == ["甲" * 1000, "乙" * 1000]


async def test_retryable_is_retried_after_the_hint_then_delivered(
    engine: AsyncEngine, relay: OutboxRelay, wecom: ReceiptPlatform, clock: FixedClock
) -> None:
    await queue(engine, text("u1", "一"), text("u1", "二"))
    wecom.fail_retryable(retry_after=30)
    assert await relay.run_once() == 2
    assert wecom.sent == []
    rows = await outbox_rows(engine)
    for row in rows:  # the whole coalesced group waits together
        assert row["status"] == PENDING and row["attempts"] == 1
        assert row["due_at"] == T0 + timedelta(seconds=30)  # the hint is the floor
        assert row["error"].startswith("retryable")
    assert await relay.run_once() == 0  # not due yet
    clock.advance(seconds=29)
    assert await relay.run_once() == 0
    clock.advance(seconds=1)
    assert await relay.run_once() == 2
    assert wecom.sent == [("text", to("u1"), "一\n\n二")]
    rows = await outbox_rows(engine)
    assert [(r["status"], r["attempts"], r["error"]) for r in rows] == [(DONE, 2, "")] * 2


async def test_retry_without_hint_backs_off_briefly(
    engine: AsyncEngine, relay: OutboxRelay, wecom: ReceiptPlatform, clock: FixedClock
) -> None:
    await queue(engine, text("u1", "hi"))
    wecom.fail_retryable()
    await relay.run_once()
    [row] = await outbox_rows(engine)
    assert row["status"] == PENDING
    assert T0 <= row["due_at"] <= T0 + timedelta(seconds=2)  # first retry: up to 2 s
    clock.advance(seconds=2)
    assert await relay.run_once() == 1
    assert wecom.sent == [("text", to("u1"), "hi")]


async def test_auth_expired_is_retried_later(
    engine: AsyncEngine, relay: OutboxRelay, wecom: ReceiptPlatform, clock: FixedClock
) -> None:
    await queue(engine, text("u1", "hi"))
    wecom.failures.append(AuthExpired("token refused twice"))
    await relay.run_once()
    [row] = await outbox_rows(engine)
    assert row["status"] == PENDING and row["due_at"] == T0 + timedelta(seconds=30)
    assert row["error"].startswith("auth expired")
    clock.advance(seconds=30)
    await relay.run_once()
    assert wecom.sent == [("text", to("u1"), "hi")]


async def test_permanent_is_dead_lettered(
    engine: AsyncEngine, relay: OutboxRelay, wecom: ReceiptPlatform, clock: FixedClock
) -> None:
    await queue(engine, text("bad-user", "hi"), text("u2", "fine"))
    wecom.fail_permanent()
    assert await relay.run_once() == 2
    rows = await outbox_rows(engine)
    assert rows[0]["status"] == DEAD and rows[0]["error"] == "permanent: scripted permanent"
    assert rows[1]["status"] == DONE  # one dead row does not stop the others
    clock.advance(days=1)
    assert await relay.run_once() == 0
    assert wecom.sent == [("text", to("u2"), "fine")]


async def test_max_attempts_then_dead(
    engine: AsyncEngine, relay: OutboxRelay, wecom: ReceiptPlatform, clock: FixedClock
) -> None:
    await queue(engine, text("u1", "hi"))
    wecom.fail_retryable(times=5, retry_after=10)
    for attempt in (1, 2):
        assert await relay.run_once() == 1
        [row] = await outbox_rows(engine)
        assert (row["status"], row["attempts"]) == (PENDING, attempt)
        clock.advance(seconds=10)
    assert await relay.run_once() == 1  # the third attempt is the last (max_attempts=3)
    [row] = await outbox_rows(engine)
    assert (row["status"], row["attempts"]) == (DEAD, 3)
    assert row["error"].startswith("gave up: retryable")
    clock.advance(days=1)
    assert await relay.run_once() == 0
    assert wecom.sent == [] and len(wecom.failures) == 2  # tried exactly three times


async def test_unconfigured_platform_is_dead_lettered(
    engine: AsyncEngine, relay: OutboxRelay
) -> None:
    await queue(engine, text("u1", "hi", platform="feishu"))
    await relay.run_once()
    [row] = await outbox_rows(engine)
    assert row["status"] == DEAD and "feishu" in row["error"]


@pytest.mark.parametrize(
    ("user", "platform"),
    [("@all", "wecom"), ("a|b|c", "wecom"), ("zhang wei", "wecom"), ("@all", "dingtalk")],
)
async def test_a_list_or_wildcard_is_never_sent(
    engine: AsyncEngine,
    relay: OutboxRelay,
    wecom: ReceiptPlatform,
    dingtalk: ReceiptPlatform,
    user: str,
    platform: str,
) -> None:
    """Whatever stored it, an id that is not one person's is dead-lettered, never sent."""
    await queue(engine, text(user, "通知", platform=platform), text("u2", "fine"))
    assert await relay.run_once() == 2
    rows = await outbox_rows(engine)
    assert rows[0]["status"] == DEAD and "user id" in rows[0]["error"]
    assert dingtalk.sent == [] and wecom.sent == [("text", to("u2"), "fine")]


async def test_unexpected_error_is_retried_and_does_not_stop_the_batch(
    engine: AsyncEngine, relay: OutboxRelay, wecom: ReceiptPlatform
) -> None:
    await queue(engine, text("u1", "first"), text("u2", "second"))
    wecom.failures.append(RuntimeError("renderer bug"))
    assert await relay.run_once() == 2
    first, second = await outbox_rows(engine)
    assert first["status"] == PENDING and "RuntimeError" in first["error"]
    assert second["status"] == DONE
    assert wecom.sent == [("text", to("u2"), "second")]


def assign_card(status: str = "") -> Card:
    buttons = () if status else (Button(text="接单", action="a1", style=ButtonStyle.PRIMARY),)
    return Card(
        key="t1_assign_1", title="新工单 #1", summary="注塑机报警", buttons=buttons, status=status
    )


def card_message(card: Card, kind: str = "card", user: str = "zhangwei") -> Outbound:
    return Outbound(
        platform="wecom",
        user_id=user,
        kind=kind,
        card=card.model_dump(mode="json"),
        card_key=card.key,
        ticket_id=1,
        dedupe_key=f"{card.key}:{kind}",
    )


async def test_cards_are_kept_as_receipts_and_updated_in_place(
    engine: AsyncEngine, relay: OutboxRelay, wecom: ReceiptPlatform
) -> None:
    await queue(engine, card_message(assign_card()))
    await relay.run_once()
    assert wecom.sent == [("card", to("zhangwei"), assign_card())]
    async with engine.connect() as conn:
        receipt = await load_receipt(conn, "wecom", "t1_assign_1")
        row = (await conn.execute(select(db.cards))).one()
    assert receipt is not None
    assert receipt.message_id == "m1" and receipt.target == to("zhangwei")
    assert row.ticket_id == 1 and row.message_id == "m1"

    # a click brought a fresh ResponseCode; the update must use it
    async with engine.begin() as conn:
        await remember_response_code(
            conn, platform="wecom", card_key="t1_assign_1", response_code="RC-1", at=T0
        )
    finished = assign_card(status="张伟 已接单 06-10 10:02")
    await queue(engine, card_message(finished, kind="card_update"))
    await relay.run_once()
    assert wecom.sent[1] == ("update", to("zhangwei"), finished)
    [used] = wecom.updated_with
    assert (used.message_id, used.response_code, used.card_key) == ("m1", "RC-1", "t1_assign_1")
    async with engine.connect() as conn:
        after = await load_receipt(conn, "wecom", "t1_assign_1")
        cards = (await conn.execute(select(func.count()).select_from(db.cards))).scalar()
    assert after is not None and after.response_code == ""  # spent: single use
    assert cards == 1
    assert all(r["status"] == DONE for r in await outbox_rows(engine))


async def test_card_update_without_a_receipt_sends_the_card(
    engine: AsyncEngine, relay: OutboxRelay, wecom: ReceiptPlatform
) -> None:
    finished = assign_card(status="已取消")
    await queue(engine, card_message(finished, kind="card_update"))
    await relay.run_once()
    assert wecom.sent == [("card", to("zhangwei"), finished)]
    assert wecom.updated_with == []
    async with engine.connect() as conn:
        assert await load_receipt(conn, "wecom", "t1_assign_1") is not None


# --- the inbox worker --------------------------------------------------------------------


@pytest.fixture
def worker(engine: AsyncEngine, clock: FixedClock) -> InboxWorker:
    return InboxWorker(engine=engine, bus=build_bus(engine, DESK, clock))


def chat(
    body: str, *, key: str = "msg-1", user: str = "ext-wang", name: str = "王先生"
) -> ChatMessage:
    return ChatMessage(
        platform="wecom",
        dedupe_key=key,
        user_id=user,
        user_name=name,
        kind=MessageKind.TEXT,
        text=body,
    )


async def store(engine: AsyncEngine, *messages: ChatMessage, at: datetime = T0) -> int:
    rows = [
        {
            "platform": m.platform,
            "dedupe_key": m.dedupe_key,
            "kind": f"message:{m.kind.value}",
            "payload": m.model_dump(mode="json"),
        }
        for m in messages
    ]
    async with engine.begin() as conn:
        return await inbox.insert_items(conn, rows, at=at)


async def inbox_rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(db.inbox).order_by(db.inbox.c.id))
        return [dict(r._mapping) for r in rows]


async def count(engine: AsyncEngine, table: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar() or 0)


async def customers(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(db.people).where(db.people.c.kind == PersonKind.CUSTOMER.value)
        )
        return [dict(r._mapping) for r in rows]


async def replies_to(engine: AsyncEngine, user: str) -> list[dict[str, Any]]:
    return [r for r in await outbox_rows(engine) if r["user_id"] == user]


async def test_report_opens_ticket_one_and_answers_the_sender(
    engine: AsyncEngine,
    worker: InboxWorker,
    relay: OutboxRelay,
    wecom: ReceiptPlatform,
) -> None:
    await store(engine, chat("报修 A-1024 注塑机报警"))
    assert await worker.run_once() == 1

    [row] = await inbox_rows(engine)
    assert row["status"] == DONE and row["processed_at"] == T0
    [customer] = await customers(engine)
    async with SqlUnitOfWork(engine) as uow:
        ticket = await uow.tickets.get(1)
        assert await uow.tickets.get(2) is None
    assert ticket is not None and ticket.ref == "#1"
    assert ticket.requester_id == customer["id"] and ticket.type == "repair"
    assert ticket.fields["device"] == "A-1024"
    assert ticket.channel == "wecom"
    opened = ticket.history[0]  # then the assignment rules dispatch it (core/tickets/dispatch.py)
    assert (opened.action, opened.actor_id, opened.channel) == ("opened", customer["id"], "wecom")
    assert opened.at == T0

    [reply] = await replies_to(engine, "ext-wang")
    assert reply["platform"] == "wecom" and reply["ticket_id"] == 1
    assert "#1" in reply["payload"]["text"]

    await relay.run_once()
    sent = [body for kind, target, body in wecom.sent if target == to("ext-wang")]
    assert len(sent) == 1 and "#1" in str(sent[0])


def is_help(body: str) -> bool:
    return all(command in body for command in ("报修", "我的工单", "查看 #12"))


async def test_help_queues_the_help_text(engine: AsyncEngine, worker: InboxWorker) -> None:
    await store(engine, chat("帮助"))
    await worker.run_once()
    [row] = await inbox_rows(engine)
    [reply] = await replies_to(engine, "ext-wang")
    assert is_help(reply["payload"]["text"])
    assert "备注" not in reply["payload"]["text"]  # staff commands are not offered to customers
    assert reply["dedupe_key"] == f"inbox:{row['id']}:reply"
    assert await count(engine, db.tickets) == 0


async def test_an_inbox_row_is_processed_once(engine: AsyncEngine, worker: InboxWorker) -> None:
    message = chat("报修 A-1024 注塑机报警")
    assert await store(engine, message) == 1
    assert await store(engine, message) == 0  # the platform retried its callback
    assert await worker.run_once() == 1
    assert await worker.run_once() == 0
    assert await count(engine, db.tickets) == 1
    replies = len(await replies_to(engine, "ext-wang"))

    # a worker claimed the row again (its lease ran out) while it was being handled: the claim
    # it holds is stale, so its whole turn rolls back and nothing happens twice
    async with engine.begin() as conn:
        await conn.execute(update(db.inbox).values(status=PENDING, available_at=T0))
    async with engine.begin() as conn:
        [stale] = await inbox.claim_inbox(conn, now=T0, lease_s=60)
    async with engine.begin() as conn:
        await conn.execute(update(db.inbox).values(status=DONE))  # the other worker finished
    await worker._process(stale)
    assert await count(engine, db.tickets) == 1
    assert len(await replies_to(engine, "ext-wang")) == replies
    assert len(await customers(engine)) == 1
    assert [r["status"] for r in await inbox_rows(engine)] == [DONE]


async def test_a_customer_is_registered_on_first_contact(
    engine: AsyncEngine, worker: InboxWorker
) -> None:
    assert await customers(engine) == []
    await store(engine, chat("帮助", key="m1"))
    await worker.run_once()
    [customer] = await customers(engine)
    assert customer["name"] == "王先生" and customer["created_at"] == T0
    async with SqlUnitOfWork(engine) as uow:
        person = await uow.people.by_identity("wecom", "ext-wang")
    assert person is not None and person.id == customer["id"]

    await store(engine, chat("我的工单", key="m2"), chat("帮助", key="m3", user="zhangwei"))
    await worker.run_once()
    assert [c["id"] for c in await customers(engine)] == [customer["id"]]  # staff are known
    assert len(await replies_to(engine, "ext-wang")) == 2
    [staff_help] = await replies_to(engine, "zhangwei")
    assert is_help(staff_help["payload"]["text"]) and "备注" in staff_help["payload"]["text"]
