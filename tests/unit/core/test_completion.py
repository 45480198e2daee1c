"""完工 / 确认完成 / 未解决 / auto-close / 评价 through the bus (in-memory unit of work)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cards.actions import ActionKind, ActionRef, Signer
from cards.registry import build
from core.bus import DUPLICATE, MessageBus
from core.clock import FixedClock
from core.errors import Conflict, DomainError, Forbidden, InvalidTransition, ValidationFailed
from core.messages import Actor, Channel, Command, Outbound
from core.people.directory import person_from_config
from core.people.model import Person, PersonKind
from core.settings import DeskConfig, PersonConfig
from core.tickets import completion
from core.tickets import handlers as ticket_handlers
from core.tickets.commands import (
    AssignTicket,
    ChangeStatus,
    CompleteTicket,
    ConfirmResolution,
    OpenTicket,
    RateTicket,
    ReopenTicket,
    ScanAutoClose,
)
from core.tickets.model import Ticket
from core.tickets.workflow import Status
from tests.fakes.uow import MemoryStore, MemoryUnitOfWork

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 6, 10, 10, 0, tzinfo=SH)
SECRET = b"unit-test-secret"
SIGNER = Signer(SECRET, "wecom:c1", 2_000_000_000)
PEOPLE = [
    PersonConfig(id="zhang", name="张伟", roles=["engineer"], wecom_userid="zhangwei"),
    PersonConfig(id="wang", name="王强", roles=["engineer"], dingtalk_userid="0456"),
    PersonConfig(id="li", name="李娜", roles=["agent"], wecom_userid="lina"),
    PersonConfig(id="boss", name="赵敏", roles=["manager"], wecom_userid="zhaomin"),
    PersonConfig(id="boss2", name="钱进", roles=["manager"], dingtalk_userid="0999"),
]


def actor(person_id: str) -> Actor:
    cfg = next((p for p in PEOPLE if p.id == person_id), None)
    if cfg is None:
        return Actor(person_id=person_id, name=f"客户{person_id}", channel=Channel.WECOM)
    return person_from_config(cfg).actor(Channel.WECOM)


class Desk:
    def __init__(self, **config: Any) -> None:
        self.config = DeskConfig(people=PEOPLE, **config)
        self.store = MemoryStore()
        for cfg in PEOPLE:
            self.store.people[cfg.id] = person_from_config(cfg)
        for cid in ("c1", "c2"):
            self.store.people[cid] = Person(
                id=cid, name=f"客户{cid}", kind=PersonKind.CUSTOMER, identities={"wecom": cid}
            )
        self.clock = FixedClock(NOW)
        self.bus = MessageBus(
            uow_factory=lambda: MemoryUnitOfWork(self.store),
            clock=self.clock,
            config=self.config,
            command_handlers={**ticket_handlers.COMMAND_HANDLERS, **completion.COMMAND_HANDLERS},
            event_handlers={
                **{k: list(v) for k, v in ticket_handlers.EVENT_HANDLERS.items()},
                **{k: list(v) for k, v in completion.EVENT_HANDLERS.items()},
            },
        )

    async def handle(self, command: Command) -> Any:
        return await self.bus.handle(command)

    async def accepted_ticket(self) -> Ticket:
        """#1 by c1, assigned to and accepted by zhang (the plain ticket core only)."""
        await self.handle(
            OpenTicket(
                actor=actor("c1"),
                requester_id="c1",
                title="注塑机报警 E31",
                fields={"device": "A-1024", "symptom": "报警 E31"},
            )
        )
        await self.handle(AssignTicket(actor=actor("li"), ticket_id=1, assignee_id="zhang"))
        await self.handle(ChangeStatus(actor=actor("zhang"), ticket_id=1, status="accepted"))
        self.store.outbox.clear()
        return self.ticket()

    async def resolved_ticket(self) -> Ticket:
        await self.accepted_ticket()
        await self.handle(
            CompleteTicket(
                actor=actor("zhang"), ticket_id=1, summary="更换滤芯", photos=("m1", "m2")
            )
        )
        self.store.outbox.clear()
        return self.ticket()

    async def closed_ticket(self) -> Ticket:
        await self.resolved_ticket()
        await self.handle(ConfirmResolution(actor=actor("c1"), ticket_id=1))
        self.store.outbox.clear()
        return self.ticket()

    def ticket(self) -> Ticket:
        return self.store.tickets[1]

    def to(self, user_id: str, kind: str = "text") -> list[Outbound]:
        return [m for m in self.store.outbox if m.user_id == user_id and m.kind == kind]

    def snapshot(self) -> tuple[Any, ...]:
        t = self.ticket()
        return (t.status, t.version, len(t.history), t.rating, len(self.store.outbox))


def card_of(msg: Outbound) -> Any:
    assert msg.card is not None
    return build(msg.card, key=msg.card_key, secret=SIGNER)


async def refused(dk: Desk, command: Command, error: type[DomainError]) -> str:
    before = dk.snapshot()
    with pytest.raises(error) as info:
        await dk.handle(command)
    assert dk.snapshot() == before, "a refusal changes nothing"
    assert "#1" in info.value.message
    return info.value.message


# --- 完工 ----------------------------------------------------------------------------------


async def test_complete_resolves_records_and_sends_the_completion_card() -> None:
    dk = Desk()
    await dk.accepted_ticket()
    await dk.handle(
        CompleteTicket(actor=actor("zhang"), ticket_id=1, summary=" 更换滤芯 ", photos=("m1",))
    )
    t = dk.ticket()
    assert t.status is Status.RESOLVED and t.resolved_at == NOW
    entry = t.history[-1]
    assert entry.action == "status_changed" and entry.data["to"] == "resolved"
    assert entry.data["summary"] == "更换滤芯" and entry.data["photos"] == ["m1"]
    assert entry.actor_id == "zhang"

    [msg] = dk.to("c1", "card")
    assert msg.card_key == "t1_done_1" and msg.platform == "wecom" and msg.ticket_id == 1
    card = card_of(msg)
    assert [b.text for b in card.buttons] == ["确认完成", "未解决"]
    refs = [ActionRef.decode(b.action, SECRET, recipient="wecom:c1", now=0) for b in card.buttons]
    assert [(r.kind, r.ticket_id, r.card_key) for r in refs] == [
        (ActionKind.CONFIRM, 1, "t1_done_1"),
        (ActionKind.REOPEN, 1, "t1_done_1"),
    ]
    assert "#1" in card.title
    assert {f.label: f.value for f in card.fields}["处理说明"] == "更换滤芯"
    assert {f.label: f.value for f in card.fields}["现场照片"] == "1 张"
    [told] = dk.to("zhangwei")
    assert "#1" in told.text and "完工" in told.text


@pytest.mark.parametrize(
    ("who", "error", "words"),
    [("c1", Forbidden, "工程师"), ("wang", Forbidden, "不是由您负责"), ("li", Forbidden, "工程师")],
)
async def test_only_the_assigned_engineer_completes(who: str, error: type, words: str) -> None:
    dk = Desk()
    await dk.accepted_ticket()
    message = await refused(dk, CompleteTicket(actor=actor(who), ticket_id=1), error)
    assert words in message


async def test_complete_needs_an_accepted_ticket() -> None:
    dk = Desk()
    await dk.resolved_ticket()
    message = await refused(
        dk, CompleteTicket(actor=actor("zhang"), ticket_id=1), InvalidTransition
    )
    assert "已完工" in message


async def test_a_retried_command_is_a_no_op() -> None:
    dk = Desk()
    await dk.accepted_ticket()
    cmd = CompleteTicket(actor=actor("zhang"), ticket_id=1, summary="x", source="inbox:9:0")
    await dk.handle(cmd)
    before = dk.snapshot()
    assert await dk.handle(cmd) is DUPLICATE
    assert dk.snapshot() == before


# --- 确认完成 -------------------------------------------------------------------------------


async def test_confirm_closes_updates_the_card_and_sends_the_satisfaction_card() -> None:
    dk = Desk()
    await dk.resolved_ticket()
    await dk.handle(ConfirmResolution(actor=actor("c1"), ticket_id=1))
    t = dk.ticket()
    assert t.status is Status.CLOSED and t.closed_at == NOW
    assert t.history[-1].data == {
        "from": "resolved",
        "to": "closed",
        "confirmed": True,
        "via": "chat",
    }

    [update] = dk.to("c1", "card_update")
    assert update.card_key == "t1_done_1"
    finished = card_of(update)
    assert finished.buttons == () and finished.status == "客户c1 已确认完成"
    [rate] = dk.to("c1", "card")
    assert rate.card_key == "t1_rate"
    card = card_of(rate)
    assert [b.text for b in card.buttons] == ["5分", "4分", "3分", "2分", "1分"]
    refs = [ActionRef.decode(b.action, SECRET, recipient="wecom:c1", now=0) for b in card.buttons]
    assert {r.kind for r in refs} == {ActionKind.RATE}
    assert [r.arg for r in refs] == ["5", "4", "3", "2", "1"]
    assert any("#1" in m.text and "确认" in m.text for m in dk.to("zhangwei"))


async def test_only_the_requester_confirms_and_only_a_resolved_ticket() -> None:
    dk = Desk()
    await dk.resolved_ticket()
    assert "报修人" in await refused(
        dk, ConfirmResolution(actor=actor("zhang"), ticket_id=1), Forbidden
    )
    await refused(dk, ConfirmResolution(actor=actor("c2"), ticket_id=1), Forbidden)
    await dk.handle(ConfirmResolution(actor=actor("c1"), ticket_id=1))
    # a second click on the finished card: refused politely, nothing changes
    message = await refused(
        dk, ConfirmResolution(actor=actor("c1"), ticket_id=1), InvalidTransition
    )
    assert "已关闭" in message


# --- 未解决 --------------------------------------------------------------------------------


async def test_reopen_returns_to_the_engineer_with_the_reason() -> None:
    dk = Desk()
    await dk.resolved_ticket()
    await dk.handle(ReopenTicket(actor=actor("c1"), ticket_id=1, reason=" 还是报警 "))
    t = dk.ticket()
    assert t.status is Status.ACCEPTED and t.resolved_at is None and t.assignee_id == "zhang"
    assert t.history[-1].data == {"from": "resolved", "to": "accepted", "reason": "还是报警"}
    [update] = dk.to("c1", "card_update")
    assert update.card_key == "t1_done_1" and card_of(update).status == "客户c1 反馈未解决"
    [told] = dk.to("zhangwei")
    assert "#1" in told.text and "还是报警" in told.text
    assert any("张伟" in m.text for m in dk.to("c1"))

    # finished again: a new completion card, round 2
    dk.store.outbox.clear()
    await dk.handle(CompleteTicket(actor=actor("zhang"), ticket_id=1, summary="换主板"))
    [card] = dk.to("c1", "card")
    assert card.card_key == "t1_done_2"
    assert {f.label: f.value for f in card_of(card).fields}["处理说明"] == "换主板"


async def test_reopen_refusals() -> None:
    dk = Desk()
    await dk.resolved_ticket()
    await refused(dk, ReopenTicket(actor=actor("zhang"), ticket_id=1, reason="x"), Forbidden)
    message = await refused(
        dk, ReopenTicket(actor=actor("c1"), ticket_id=1, reason="  "), ValidationFailed
    )
    assert "原因" in message
    await dk.handle(ConfirmResolution(actor=actor("c1"), ticket_id=1))
    await refused(dk, ReopenTicket(actor=actor("c1"), ticket_id=1, reason="x"), InvalidTransition)


# --- automatic close -------------------------------------------------------------------------


async def test_auto_close_after_the_configured_days_once() -> None:
    dk = Desk()
    await dk.resolved_ticket()
    system = Actor.system()
    dk.clock.advance(days=2, hours=23)
    assert await dk.handle(ScanAutoClose(actor=system, source="s1")) == 0
    assert dk.ticket().status is Status.RESOLVED and dk.store.outbox == []

    dk.clock.advance(hours=1)  # exactly three days
    assert await dk.handle(ScanAutoClose(actor=system, source="s2")) == 1
    t = dk.ticket()
    assert t.status is Status.CLOSED
    last = t.history[-1]
    assert (last.actor_id, last.channel) == ("system", "system")
    assert last.data["auto"] is True and last.data["days"] == 3
    [notice] = dk.to("c1")
    assert "#1" in notice.text and "自动关闭" in notice.text and "3 天" in notice.text
    [update] = dk.to("c1", "card_update")
    assert update.card_key == "t1_done_1" and card_of(update).status == "3天未确认，已自动关闭"
    assert dk.to("c1", "card") == []  # no satisfaction card: the customer did not answer

    before = dk.snapshot()
    dk.clock.advance(minutes=1)
    assert await dk.handle(ScanAutoClose(actor=system, source="s3")) == 0
    assert dk.snapshot() == before


async def test_auto_close_days_come_from_the_config_and_only_resolved_tickets_close() -> None:
    dk = Desk(completion={"auto_close_days": 1})
    await dk.resolved_ticket()
    await dk.handle(ReopenTicket(actor=actor("c1"), ticket_id=1, reason="不行"))
    dk.clock.advance(days=5)
    assert await dk.handle(ScanAutoClose(actor=Actor.system())) == 0
    assert dk.ticket().status is Status.ACCEPTED
    await dk.handle(CompleteTicket(actor=actor("zhang"), ticket_id=1))
    dk.clock.advance(days=1)
    assert await dk.handle(ScanAutoClose(actor=Actor.system())) == 1
    with pytest.raises(Forbidden):
        await dk.handle(ScanAutoClose(actor=actor("boss")))


# --- 评价 ----------------------------------------------------------------------------------


async def test_rate_once_updates_the_card_and_thanks() -> None:
    dk = Desk()
    await dk.closed_ticket()
    await dk.handle(RateTicket(actor=actor("c1"), ticket_id=1, score=5, comment=" 很好 "))
    t = dk.ticket()
    assert (t.rating, t.rating_comment) == (5, "很好")
    assert t.history[-1].action == "rated" and t.history[-1].data == {"score": 5, "comment": "很好"}
    [update] = dk.to("c1", "card_update")
    assert update.card_key == "t1_rate" and card_of(update).status == "已评价：5分"
    assert any("#1" in m.text and "5分" in m.text for m in dk.to("c1"))
    assert dk.to("zhaomin") == []  # a good score bothers no manager

    message = await refused(dk, RateTicket(actor=actor("c1"), ticket_id=1, score=1), Conflict)
    assert "只能评价一次" in message and "5分" in message


async def test_rate_refusals() -> None:
    dk = Desk()
    await dk.resolved_ticket()
    assert "确认" in await refused(
        dk, RateTicket(actor=actor("c1"), ticket_id=1, score=4), InvalidTransition
    )
    await dk.handle(ConfirmResolution(actor=actor("c1"), ticket_id=1))
    await refused(dk, RateTicket(actor=actor("zhang"), ticket_id=1, score=5), Forbidden)
    for score in (0, 6):
        await refused(dk, RateTicket(actor=actor("c1"), ticket_id=1, score=score), ValidationFailed)


async def test_a_low_score_tells_every_manager() -> None:
    dk = Desk()
    await dk.closed_ticket()
    await dk.handle(RateTicket(actor=actor("c1"), ticket_id=1, score=2, comment="来得太晚"))
    to_boss = dk.to("zhaomin")
    to_boss2 = [m for m in dk.store.outbox if m.platform == "dingtalk" and m.user_id == "0999"]
    for [m] in (to_boss, to_boss2):
        assert "#1" in m.text and "2分" in m.text and "来得太晚" in m.text and "张伟" in m.text
    assert dk.to("zhangwei") == [] and dk.to("lina") == []


async def test_an_auto_closed_ticket_can_be_rated_by_text() -> None:
    dk = Desk()
    await dk.resolved_ticket()
    dk.clock.advance(days=4)
    await dk.handle(ScanAutoClose(actor=Actor.system()))
    dk.store.outbox.clear()
    await dk.handle(RateTicket(actor=actor("c1"), ticket_id=1, score=1))
    assert dk.ticket().rating == 1
    assert dk.to("c1", "card_update") == []  # there is no satisfaction card to update
    [m] = dk.to("zhaomin")
    assert "无" in m.text  # no comment given
