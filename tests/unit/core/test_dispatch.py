"""Dispatch: the selection rules (pure) and the handlers through the bus (memory unit of work)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core.bus import DUPLICATE, MessageBus
from core.clock import FixedClock
from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from core.messages import Actor, Channel, Outbound
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
from core.tickets import assignment, dispatch, handlers
from core.tickets.commands import (
    AcceptTicket,
    AssignTicket,
    ChangeStatus,
    DeclineTicket,
    DispatchTicket,
    OpenTicket,
    ScanAssignments,
    TransferTicket,
)
from core.tickets.model import Ticket
from core.tickets.offers import OfferStatus
from core.tickets.rules import candidates, ticket_region
from core.tickets.workflow import Status
from tests.fakes.uow import MemoryStore, MemoryUnitOfWork

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 6, 10, 10, 0, tzinfo=SH)

PEOPLE = [
    PersonConfig(
        id="zhang",
        name="张伟",
        roles=["engineer"],
        region="华东",
        skills=["注塑机"],
        phone="13800000001",
        wecom_userid="zhangwei",
    ),
    PersonConfig(
        id="wang",
        name="王强",
        roles=["engineer"],
        region="华东",
        skills=["注塑机", "空压机"],
        dingtalk_userid="0456",
    ),
    PersonConfig(
        id="zhao",
        name="赵六",
        roles=["engineer"],
        region="华南",
        skills=["注塑机"],
        wecom_userid="zhaoliu",
    ),
    PersonConfig(id="li", name="李娜", roles=["agent"], wecom_userid="lina"),
    PersonConfig(id="boss", name="赵敏", roles=["manager"], wecom_userid="zhaomin"),
]
FIELDS = [
    CustomField(key="device", label="设备编号", type=FieldType.ASSET),
    CustomField(key="address", label="地址"),
    CustomField(key="region", label="区域"),
]
TYPES = [
    TicketTypeConfig(key="repair", name="设备报修", skills=["注塑机"], fields=FIELDS),
    TicketTypeConfig(key="compressor", name="空压机", skills=["空压机"], fields=FIELDS),
    TicketTypeConfig(key="consult", name="咨询"),
]
ASSETS = [
    AssetConfig(id="A-1024", region="华东"),
    AssetConfig(id="B-2048", region="华南"),
    AssetConfig(id="C-1", region="西北"),
]


def desk(people: list[PersonConfig] = PEOPLE, **assignment_cfg: Any) -> DeskConfig:
    return DeskConfig(
        people=people,
        ticket_types=TYPES,
        assets=ASSETS,
        assignment=AssignmentConfig(**assignment_cfg),
    )


def actor(person_id: str) -> Actor:
    cfg = next((p for p in PEOPLE if p.id == person_id), None)
    if cfg is None:
        return Actor(person_id=person_id, name=f"客户{person_id}", channel=Channel.WECOM)
    return person_from_config(cfg).actor(Channel.WECOM)


class Desk:
    def __init__(self, config: DeskConfig) -> None:
        self.store = MemoryStore()
        for cfg in config.people:
            self.store.people[cfg.id] = person_from_config(cfg)
        self.store.people["c1"] = Person(
            id="c1", name="客户c1", kind=PersonKind.CUSTOMER, identities={"wecom": "c1"}
        )
        self.clock = FixedClock(NOW)
        command_handlers: dict[type, Any] = {}
        event_handlers: dict[type, list[Any]] = {}
        for module in (handlers, assignment, dispatch):
            command_handlers.update(module.COMMAND_HANDLERS)
            for event, reactions in module.EVENT_HANDLERS.items():
                event_handlers.setdefault(event, []).extend(reactions)
        self.bus = MessageBus(
            uow_factory=lambda: MemoryUnitOfWork(self.store),
            clock=self.clock,
            config=config,
            command_handlers=command_handlers,
            event_handlers=event_handlers,
        )

    async def open(self, device: str = "A-1024", **kwargs: Any) -> Ticket:
        kwargs.setdefault("fields", {"device": device})
        return await self.bus.handle(
            OpenTicket(actor=actor("c1"), requester_id="c1", title="注塑机报警", **kwargs)
        )

    def ticket(self, ticket_id: int = 1) -> Ticket:
        return self.store.tickets[ticket_id]

    def actions(self, ticket_id: int = 1) -> list[str]:
        return [e.action for e in self.ticket(ticket_id).history]

    def sent(self, kind: str = "card", user: str | None = None) -> list[Outbound]:
        return [
            m for m in self.store.outbox if m.kind == kind and (user is None or m.user_id == user)
        ]

    def texts(self, user: str) -> list[str]:
        return [m.text for m in self.sent("text", user)]

    def offers(self, ticket_id: int = 1) -> list[tuple[str, str, str]]:
        return [
            (o.person_id, o.card_key, o.status.value)
            for o in self.store.offers
            if o.ticket_id == ticket_id
        ]

    def snapshot(self) -> tuple[Any, ...]:
        t = self.ticket()
        return (t.status, t.assignee_id, t.version, len(t.history), len(self.store.outbox),
                self.offers())  # fmt: skip


# --- the rules (pure) ------------------------------------------------------------------------

ENGINEERS = [person_from_config(p) for p in PEOPLE]
T0 = datetime(2025, 6, 1, tzinfo=UTC)


def ids(people: list[Person]) -> list[str]:
    return [p.id for p in people]


def pick(**kw: Any) -> list[str]:
    kw.setdefault("skills", ["注塑机"])
    kw.setdefault("region", "")
    kw.setdefault("loads", {})
    kw.setdefault("last_assigned", {})
    return ids(candidates(kw.pop("people", ENGINEERS), **kw))


def test_only_engineers_with_a_matching_skill() -> None:
    assert pick() == ["wang", "zhang", "zhao"]  # agents and managers never; then by id
    assert pick(skills=["空压机"]) == ["wang"]
    assert pick(skills=[]) == ["wang", "zhang", "zhao"]  # a type without skills: anyone
    assert pick(skills=["电梯"]) == []


def test_off_duty_inactive_excluded_and_capped_engineers_are_left_out() -> None:
    off = [
        Person(**{**vars(p), "on_duty": p.id != "wang", "active": p.id != "zhao"})
        for p in ENGINEERS
    ]
    assert pick(people=off) == ["zhang"]
    assert pick(excluded={"wang"}) == ["zhang", "zhao"]
    assert pick(loads={"wang": 8}) == ["zhang", "zhao"]  # max_open defaults to 8
    assert pick(loads={"wang": 7}) == ["zhang", "zhao", "wang"]  # below the cap: still there


def test_region_matches_and_falls_back_to_any_region() -> None:
    assert pick(region="华南") == ["zhao"]
    assert pick(region="华东") == ["wang", "zhang"]
    assert pick(region="华南", excluded={"zhao"}) == ["wang", "zhang"]  # nobody left there
    assert pick(region="西北") == ["wang", "zhang", "zhao"]


def test_least_loaded_then_assigned_longest_ago() -> None:
    assert pick(loads={"wang": 2, "zhang": 1}) == ["zhao", "zhang", "wang"]
    last = {"wang": T0 + timedelta(hours=2), "zhang": T0 + timedelta(hours=1)}
    assert pick(last_assigned=last) == ["zhao", "zhang", "wang"]  # never assigned comes first
    assert pick(loads={"zhao": 1}, last_assigned=last) == ["zhang", "wang", "zhao"]


def test_ticket_region_comes_from_the_asset_then_region_then_address() -> None:
    config = desk()

    def region(fields: dict[str, Any]) -> str:
        t = Ticket(id=1, type="repair", title="x", requester_id="c1", fields=fields,
                   created_at=T0, updated_at=T0)  # fmt: skip
        return ticket_region(t, config, ["华东", "华南"])

    assert region({"device": "B-2048", "region": "华东"}) == "华南"
    assert region({"device": "X-9", "region": "华东"}) == "华东"
    assert region({"address": "广东省 华南 工业园 3 号"}) == "华南"
    assert region({"address": "北京"}) == ""
    assert region({}) == ""


# --- automatic dispatch ----------------------------------------------------------------------


async def test_an_opened_ticket_goes_to_the_best_engineer_with_a_card() -> None:
    dk = Desk(desk())
    await dk.open(device="B-2048")  # 华南: zhao is the only one there
    t = dk.ticket()
    assert t.status is Status.ASSIGNED and t.assignee_id == "zhao"
    assert dk.actions() == ["opened", "status_changed"]
    assert t.history[-1].actor_id == "system" and t.history[-1].data["assignee"] == "zhao"
    [card] = dk.sent()
    assert (card.user_id, card.card_key) == ("zhaoliu", "t1_assign_1")
    assert card.card["builder"] == "assignment" and card.card["args"]["id"] == 1
    assert dk.offers() == [("zhao", "t1_assign_1", "open")]


async def test_least_loaded_and_round_robin_through_the_bus() -> None:
    dk = Desk(desk())
    await dk.open()  # 华东: wang and zhang are equal: by id, wang
    await dk.open()  # wang has one now: zhang
    assert (dk.ticket(1).assignee_id, dk.ticket(2).assignee_id) == ("wang", "zhang")
    # both finish: equal load again; wang was assigned longest ago
    for t, who in ((1, "wang"), (2, "zhang")):
        await dk.bus.handle(AcceptTicket(actor=actor(who), ticket_id=t))
        await dk.bus.handle(ChangeStatus(actor=actor(who), ticket_id=t, status="resolved"))
    dk.clock.advance(minutes=1)
    await dk.open()
    assert dk.ticket(3).assignee_id == "wang"
    await dk.bus.handle(AcceptTicket(actor=actor("wang"), ticket_id=3))
    await dk.bus.handle(ChangeStatus(actor=actor("wang"), ticket_id=3, status="resolved"))
    dk.clock.advance(minutes=1)
    await dk.open()
    assert dk.ticket(4).assignee_id == "zhang"


async def test_nobody_fits_leaves_it_new_and_tells_agents_and_managers() -> None:
    dk = Desk(desk())
    await dk.open(type="compressor", device="B-2048", fields={"device": "B-2048"})
    assert dk.ticket().assignee_id == "wang"  # the only 空压机 engineer, from another region
    dk2 = Desk(desk(people=[p for p in PEOPLE if p.id != "wang"]))
    await dk2.open(type="compressor")
    t = dk2.ticket()
    assert t.status is Status.NEW and t.assignee_id is None
    assert dk2.actions() == ["opened", "escalated"]
    for user in ("lina", "zhaomin"):
        [told] = dk2.texts(user)
        assert "#1" in told and "没有符合条件" in told and "转派 #1" in told
    assert dk2.sent() == []


async def test_auto_dispatch_can_be_switched_off_and_done_by_an_agent() -> None:
    dk = Desk(desk(auto_dispatch=False))
    await dk.open()
    assert dk.ticket().status is Status.NEW and dk.sent() == []
    with pytest.raises(Forbidden):
        await dk.bus.handle(DispatchTicket(actor=actor("zhang"), ticket_id=1))
    await dk.bus.handle(DispatchTicket(actor=actor("li"), ticket_id=1))
    assert dk.ticket().assignee_id == "wang" and len(dk.sent()) == 1


# --- accept ----------------------------------------------------------------------------------


async def test_accept_updates_the_card_and_tells_the_customer_who_is_coming() -> None:
    dk = Desk(desk())
    await dk.open(reply_platform="wecom", reply_user_id="c1")
    await dk.bus.handle(DeclineTicket(actor=actor("wang"), ticket_id=1, reason="在外地"))
    await dk.bus.handle(AcceptTicket(actor=actor("zhang"), ticket_id=1))
    t = dk.ticket()
    assert t.status is Status.ACCEPTED and t.assignee_id == "zhang"
    [update] = dk.sent("card_update", "zhangwei")
    assert update.card_key == "t1_assign_2" and "张伟 已接单" in update.card["status"]
    told = dk.texts("c1")[-1]
    assert "#1" in told and "张伟" in told and "13800000001" in told
    assert t.first_response_at == NOW


async def test_a_customer_cannot_accept_and_nothing_changes() -> None:
    dk = Desk(desk())
    await dk.open()
    before = dk.snapshot()
    with pytest.raises(Forbidden) as err:
        await dk.bus.handle(AcceptTicket(actor=actor("c1"), ticket_id=1))
    assert "工程师" in err.value.message and "#1" in err.value.message
    with pytest.raises(Forbidden) as other:
        await dk.bus.handle(AcceptTicket(actor=actor("zhang"), ticket_id=1))  # it is wang's
    assert "没有派给您" in other.value.message
    assert dk.snapshot() == before


async def test_accepting_twice_or_an_old_card_changes_nothing() -> None:
    dk = Desk(desk())
    await dk.open()
    await dk.bus.handle(AcceptTicket(actor=actor("wang"), ticket_id=1))
    before = dk.snapshot()
    with pytest.raises(Conflict) as again:
        await dk.bus.handle(AcceptTicket(actor=actor("wang"), ticket_id=1))
    assert "#1" in again.value.message
    assert dk.snapshot() == before


async def test_manual_assignment_still_works_and_refuses_the_same_engineer() -> None:
    dk = Desk(desk())
    await dk.open()
    with pytest.raises(Conflict) as err:
        await dk.bus.handle(AssignTicket(actor=actor("li"), ticket_id=1, assignee_id="wang"))
    assert "王强" in err.value.message
    await dk.bus.handle(AssignTicket(actor=actor("li"), ticket_id=1, assignee_id="zhao"))
    assert dk.offers() == [("wang", "t1_assign_1", "withdrawn"), ("zhao", "t1_assign_2", "open")]
    [withdrawn] = dk.sent("card_update", "0456")
    assert "赵六" in withdrawn.card["status"]
    with pytest.raises(Conflict) as old:  # wang clicks his withdrawn card
        await dk.bus.handle(AcceptTicket(actor=actor("wang"), ticket_id=1))
    assert "改派" in old.value.message and dk.ticket().assignee_id == "zhao"


# --- decline ---------------------------------------------------------------------------------


async def test_decline_records_the_reason_and_dispatches_to_the_next() -> None:
    dk = Desk(desk())
    await dk.open()
    await dk.bus.handle(DeclineTicket(actor=actor("wang"), ticket_id=1, reason="不在附近"))
    t = dk.ticket()
    assert t.assignee_id == "zhang" and t.status is Status.ASSIGNED and t.decline_count == 1
    declined = next(e for e in t.history if e.action == "declined")
    assert declined.data["reason"] == "不在附近" and declined.actor_id == "wang"
    [update] = dk.sent("card_update", "0456")
    assert update.card_key == "t1_assign_1" and "王强 已拒单：不在附近" in update.card["status"]
    assert [c.card_key for c in dk.sent("card", "zhangwei")] == ["t1_assign_2"]
    # zhang declines too: zhao (another region) is next; wang is never asked again
    await dk.bus.handle(DeclineTicket(actor=actor("zhang"), ticket_id=1, reason="没有工具"))
    assert dk.ticket().assignee_id == "zhao"


async def test_decline_needs_a_reason() -> None:
    dk = Desk(desk())
    await dk.open()
    before = dk.snapshot()
    with pytest.raises(ValidationFailed) as err:
        await dk.bus.handle(DeclineTicket(actor=actor("wang"), ticket_id=1, reason="  "))
    assert err.value.message.startswith("请说明拒单原因") and "#1" in err.value.message
    assert dk.snapshot() == before


async def test_after_max_declines_agents_and_managers_are_told() -> None:
    dk = Desk(desk(max_declines=2))
    await dk.open()
    await dk.bus.handle(DeclineTicket(actor=actor("wang"), ticket_id=1, reason="忙"))
    await dk.bus.handle(DeclineTicket(actor=actor("zhang"), ticket_id=1, reason="忙"))
    t = dk.ticket()
    assert t.status is Status.NEW and t.assignee_id is None
    assert dk.actions()[-1] == "escalated"
    assert any("已被拒单 2 次" in x and "#1" in x for x in dk.texts("lina"))
    assert any("#1" in x for x in dk.texts("zhaomin"))
    assert dk.sent("card", "zhaoliu") == []


# --- pool mode (抢单) -----------------------------------------------------------------------


async def test_pool_first_accept_wins_and_the_other_cards_say_who() -> None:
    dk = Desk(desk(mode="pool"))
    await dk.open()  # 华东: wang and zhang
    t = dk.ticket()
    assert t.status is Status.NEW and t.assignee_id is None
    assert dk.actions() == ["opened", "offered"]
    cards = {c.user_id: c for c in dk.sent()}
    assert set(cards) == {"0456", "zhangwei"}
    assert all(c.card["args"].get("pool") for c in cards.values())
    await dk.bus.handle(AcceptTicket(actor=actor("zhang"), ticket_id=1))
    t = dk.ticket()
    assert t.status is Status.ACCEPTED and t.assignee_id == "zhang"
    assert sorted(o[2] for o in dk.offers()) == ["accepted", "taken"]
    [taken] = dk.sent("card_update", "0456")
    assert taken.card_key == cards["0456"].card_key and "已由 张伟 接单" in taken.card["status"]
    [mine] = dk.sent("card_update", "zhangwei")
    assert "张伟 已接单" in mine.card["status"]

    before = dk.snapshot()
    with pytest.raises(Conflict) as late:
        await dk.bus.handle(AcceptTicket(actor=actor("wang"), ticket_id=1))
    assert "已由 张伟 接单" in late.value.message and "#1" in late.value.message
    assert dk.snapshot() == before


async def test_pool_declines_by_everyone_tell_agents_and_managers() -> None:
    dk = Desk(desk(mode="pool"))
    await dk.open()
    await dk.bus.handle(DeclineTicket(actor=actor("wang"), ticket_id=1, reason="忙"))
    assert dk.texts("lina") == [] and dk.ticket().status is Status.NEW  # zhang may still take it
    await dk.bus.handle(DeclineTicket(actor=actor("zhang"), ticket_id=1, reason="忙"))
    # the next candidate (zhao, another region) gets a fresh pool card
    assert [o for o in dk.offers() if o[0] == "zhao"] == [("zhao", "t1_pool_2_1", "open")]
    await dk.bus.handle(DeclineTicket(actor=actor("zhao"), ticket_id=1, reason="忙"))
    assert dk.actions()[-1] == "escalated" and any("#1" in x for x in dk.texts("lina"))


# --- accept timeout ----------------------------------------------------------------------------


async def test_an_assignment_not_accepted_in_time_is_dispatched_again() -> None:
    dk = Desk(desk())
    await dk.open()
    dk.clock.advance(minutes=14)
    assert await dk.bus.handle(ScanAssignments(actor=Actor.system(), source="scan:1")) == 0
    assert dk.ticket().assignee_id == "wang"
    dk.clock.advance(minutes=1)
    assert await dk.bus.handle(ScanAssignments(actor=Actor.system(), source="scan:2")) == 1
    t = dk.ticket()
    assert t.status is Status.ASSIGNED and t.assignee_id == "zhang"
    assert "expired" in dk.actions()
    [expired] = dk.sent("card_update", "0456")
    assert expired.card_key == "t1_assign_1" and "15 分钟内未接单" in expired.card["status"]
    assert dk.offers()[0] == ("wang", "t1_assign_1", "expired")
    # the same tick again, or the next tick: nothing more
    assert await dk.bus.handle(ScanAssignments(actor=Actor.system(), source="scan:2")) is DUPLICATE
    assert await dk.bus.handle(ScanAssignments(actor=Actor.system(), source="scan:3")) == 0
    assert dk.ticket().assignee_id == "zhang"
    with pytest.raises(Conflict):  # wang clicks his lapsed card
        await dk.bus.handle(AcceptTicket(actor=actor("wang"), ticket_id=1))


async def test_a_pool_nobody_takes_is_escalated_after_the_timeout() -> None:
    dk = Desk(desk(mode="pool", accept_timeout_minutes=5))
    await dk.open(device="B-2048")  # 华南: only zhao
    dk.clock.advance(minutes=5)
    assert await dk.bus.handle(ScanAssignments(actor=Actor.system())) == 1
    # zhao let it lapse: the pool goes to the other region's engineers
    assert dk.actions()[-2:] == ["expired", "offered"]
    assert {o[0] for o in dk.offers() if o[2] == "open"} == {"wang", "zhang"}
    [lapsed] = dk.sent("card_update", "zhaoliu")
    assert "未接单" in lapsed.card["status"]
    dk.clock.advance(minutes=5)
    assert await dk.bus.handle(ScanAssignments(actor=Actor.system())) == 1
    assert dk.ticket().status is Status.NEW and dk.ticket().assignee_id is None
    assert dk.actions()[-2:] == ["expired", "escalated"]
    assert any("5 分钟" in x and "#1" in x for x in dk.texts("lina"))


# --- transfer (转派) ----------------------------------------------------------------------------


async def test_the_assignee_transfers_by_name() -> None:
    dk = Desk(desk())
    await dk.open()
    await dk.bus.handle(AcceptTicket(actor=actor("wang"), ticket_id=1))
    await dk.bus.handle(TransferTicket(actor=actor("wang"), ticket_id=1, to="赵六"))
    t = dk.ticket()
    assert t.status is Status.ASSIGNED and t.assignee_id == "zhao"
    moved = next(e for e in t.history if e.action == "transferred")
    assert (moved.data["from_engineer"], moved.data["to_engineer"]) == ("wang", "zhao")
    assert [c.card_key for c in dk.sent("card", "zhaoliu")] == ["t1_assign_2"]
    assert any("赵六" in x and "#1" in x for x in dk.texts("0456"))  # the old one is told


async def test_an_agent_transfers_and_the_old_engineer_is_told() -> None:
    dk = Desk(desk())
    await dk.open()
    await dk.bus.handle(TransferTicket(actor=actor("li"), ticket_id=1, to="zhao"))
    assert dk.ticket().assignee_id == "zhao"
    assert any("李娜" in x and "赵六" in x for x in dk.texts("0456"))
    [withdrawn] = dk.sent("card_update", "0456")
    assert "赵六" in withdrawn.card["status"]
    assert any("已将工单 #1 转派给 赵六" in x for x in dk.texts("lina"))


@pytest.mark.parametrize(
    ("who", "to", "error", "words"),
    [
        ("zhang", "赵六", Forbidden, "当前负责的工程师"),  # not the assignee
        ("c1", "赵六", Forbidden, "#1"),
        ("wang", "小明", NotFound, "找不到工程师“小明”"),
        ("wang", "李娜", ValidationFailed, "不是在职的工程师"),
        ("wang", "王强", Conflict, "已由 王强 负责"),
        ("wang", "", ValidationFailed, "转派 #1 张伟"),
    ],
)
async def test_transfer_refusals_change_nothing(
    who: str, to: str, error: type[Exception], words: str
) -> None:
    dk = Desk(desk())
    await dk.open()
    before = dk.snapshot()
    with pytest.raises(error) as err:
        await dk.bus.handle(TransferTicket(actor=actor(who), ticket_id=1, to=to))
    assert words in err.value.message  # type: ignore[attr-defined]
    assert dk.snapshot() == before


async def test_offers_survive_only_committed_work() -> None:
    dk = Desk(desk())
    await dk.open()
    with pytest.raises(NotFound):
        await dk.bus.handle(TransferTicket(actor=actor("wang"), ticket_id=1, to="nobody"))
    assert [o.status for o in dk.store.offers] == [OfferStatus.OPEN]
