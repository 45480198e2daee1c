"""The SLA scan, its cards and 知道了 through the bus (in-memory unit of work, fixed clock)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cards.actions import ActionRef, Signer
from cards.registry import build
from core.errors import Conflict
from core.messages import Actor, Outbound
from core.settings import CalendarConfig, DeskConfig, PersonConfig, TicketTypeConfig
from core.sla.commands import AcknowledgeSla, ScanSla
from core.sla.scan import decode_items
from core.tickets.commands import AcceptTicket, AssignTicket
from tests.unit.core.test_sla_clocks import Desk, actor

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2025, 6, 10, 10, 0, tzinfo=SH)
ALWAYS = CalendarConfig(
    key="always",
    hours={d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
)
PEOPLE = [
    PersonConfig(id="zhang", name="张伟", roles=["engineer"], wecom_userid="zhangwei"),
    PersonConfig(id="li", name="李娜", roles=["agent"], wecom_userid="lina"),
    PersonConfig(id="boss", name="赵敏", roles=["manager"], region="华东", wecom_userid="zhaomin"),
    PersonConfig(id="south", name="钱进", roles=["manager"], region="华南", wecom_userid="qianjin"),
]
SIGNER = Signer(b"k" * 32, "wecom:x", 2_000_000_000)


def config(**policy: Any) -> DeskConfig:
    sla = {"calendar": "always", "response_minutes": 4, "resolve_minutes": 60, **policy}
    return DeskConfig(
        people=PEOPLE,
        calendars=[ALWAYS],
        assignment={"auto_dispatch": False},
        ticket_types=[TicketTypeConfig(key="repair", name="设备报修", sla={"normal": sla})],
    )


def desk(**policy: Any) -> Desk:
    dk = Desk(config(**policy))
    dk.clock.set(T0)
    return dk


def cards(dk: Desk, user: str, kind: str = "card") -> list[Outbound]:
    return [
        m
        for m in dk.store.outbox
        if m.user_id == user
        and m.kind == kind
        and (m.card or {}).get("builder", "").startswith("sla")
    ]


async def scan(dk: Desk, at: datetime) -> int:
    dk.clock.set(at)
    return int(await dk.handle(ScanSla(actor=Actor.system())))


async def test_a_warning_goes_to_the_assignee_once_with_the_time_left() -> None:
    dk = desk()
    await dk.open()
    await dk.handle(AssignTicket(actor=actor("li"), ticket_id=1, assignee_id="zhang"))
    assert await scan(dk, T0 + timedelta(minutes=2)) == 0
    await scan(dk, T0 + timedelta(minutes=3, seconds=5))
    [card] = cards(dk, "zhangwei")
    assert card.card_key == "t1_slaw_R_zhang" and cards(dk, "lina") == []
    built = build(card.card or {}, key=card.card_key, secret=SIGNER)
    text = built.title + built.summary + "".join(f.label + f.value for f in built.fields)
    assert "预警" in text and "#1" in text and "剩余 1分（工作时间）" in text
    assert [b.text for b in built.buttons] == ["知道了"]
    history = dk.store.tickets[1].history[-1]
    assert history.action == "sla_warned" and history.data["target"] == "response"
    assert history.data["to"] == ["zhang"]
    await scan(dk, T0 + timedelta(minutes=3, seconds=30))
    assert len(cards(dk, "zhangwei")) == 1  # once


async def test_unassigned_warnings_go_to_the_agents() -> None:
    dk = desk()
    await dk.open()
    await scan(dk, T0 + timedelta(minutes=3))
    assert [c.card_key for c in cards(dk, "lina")] == ["t1_slaw_R_li"]
    assert cards(dk, "zhangwei") == []


async def test_warnings_within_a_minute_for_one_person_are_one_card() -> None:
    dk = desk()
    await dk.open()
    dk.clock.set(T0 + timedelta(seconds=40))
    await dk.open()
    await scan(dk, T0 + timedelta(minutes=3, seconds=1))  # #1 due now, #2 in 39 s
    [card] = cards(dk, "lina")
    built = build(card.card or {}, key=card.card_key, secret=SIGNER)
    assert "2 个工单" in built.title and "#1" in built.summary and "#2" in built.summary
    ref = ActionRef.decode(built.buttons[0].action, SIGNER.secret, recipient="wecom:x", now=0)
    assert decode_items(ref.arg) == ("warning", ((1, "response"), (2, "response")))
    await scan(dk, T0 + timedelta(minutes=3, seconds=45))
    assert len(cards(dk, "lina")) == 1  # #2 is not warned again


async def test_a_breach_goes_to_the_assignee_and_the_managers_of_the_region() -> None:
    dk = Desk(config())
    dk.clock.set(T0)
    await dk.open()
    dk.store.tickets[1].fields["region"] = "华东"
    await dk.handle(AssignTicket(actor=actor("li"), ticket_id=1, assignee_id="zhang"))
    await scan(dk, T0 + timedelta(minutes=5))  # warn and due both passed: the breach only
    for user in ("zhangwei", "zhaomin"):
        [card] = cards(dk, user)
        built = build(card.card or {}, key=card.card_key, secret=SIGNER)
        assert "超时" in built.title and "#1" in built.title
        assert [b.text for b in built.buttons] == ["知道了"]
    assert cards(dk, "qianjin") == [] and cards(dk, "lina") == []
    actions = [e.action for e in dk.store.tickets[1].history]
    assert actions.count("sla_breached") == 1 and "sla_warned" not in actions
    assert dk.clocks()["response"].breached_at == T0 + timedelta(minutes=5)
    await scan(dk, T0 + timedelta(minutes=9))
    assert len(cards(dk, "zhaomin")) == 1


async def test_know_it_updates_the_card_records_it_and_a_second_click_changes_nothing() -> None:
    dk = desk()
    await dk.open()
    await dk.handle(AssignTicket(actor=actor("li"), ticket_id=1, assignee_id="zhang"))
    await scan(dk, T0 + timedelta(minutes=3))
    dk.clock.set(T0 + timedelta(minutes=3, seconds=20))
    ack = AcknowledgeSla(
        actor=actor("zhang"), card_key="t1_slaw_R_zhang", kind="warning", items=((1, "response"),)
    )
    await dk.handle(ack)
    [update] = cards(dk, "zhangwei", "card_update")
    assert update.card_key == "t1_slaw_R_zhang" and "张伟 已知悉" in update.card["status"]
    last = dk.store.tickets[1].history[-1]
    assert last.action == "sla_acknowledged" and last.actor_id == "zhang"
    assert last.data == {"target": "response", "kind": "warning", "card": "t1_slaw_R_zhang"}
    with pytest.raises(Conflict) as err:
        await dk.handle(ack)
    assert "#1" in err.value.message
    assert len(cards(dk, "zhangwei", "card_update")) == 1


async def test_a_met_or_paused_clock_is_not_warned() -> None:
    dk = desk()
    await dk.open()
    await dk.handle(AssignTicket(actor=actor("li"), ticket_id=1, assignee_id="zhang"))
    await dk.handle(AcceptTicket(actor=actor("zhang"), ticket_id=1))
    await scan(dk, T0 + timedelta(minutes=10))
    assert cards(dk, "zhangwei") == [] and dk.clocks()["response"].warned_at is None


async def test_redispatch_on_a_breached_response_when_configured() -> None:
    dk = desk(escalate="redispatch")
    await dk.open()
    await dk.handle(AssignTicket(actor=actor("li"), ticket_id=1, assignee_id="zhang"))
    await scan(dk, T0 + timedelta(minutes=5))
    ticket = dk.store.tickets[1]
    actions = [e.action for e in ticket.history]
    assert "sla_redispatched" in actions
    # zhang let it lapse and is the only engineer: back to new, agents and managers are told
    assert ticket.assignee_id is None and ticket.status.value == "new"
    assert "escalated" in actions


async def test_escalation_is_off_by_default() -> None:
    dk = desk()
    await dk.open()
    await dk.handle(AssignTicket(actor=actor("li"), ticket_id=1, assignee_id="zhang"))
    await scan(dk, T0 + timedelta(minutes=5))
    ticket = dk.store.tickets[1]
    assert ticket.assignee_id == "zhang" and "sla_redispatched" not in [
        e.action for e in ticket.history
    ]
