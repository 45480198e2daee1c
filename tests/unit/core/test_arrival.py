"""到场 / a shared location through the bus (in-memory unit of work, fixed clock), and the first
response: a manual assignment or a 转派 is none; the engineer's 接单 is."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.errors import Forbidden, InvalidTransition, NotFound, ValidationFailed
from core.messages import Actor
from core.settings import DeskConfig, PersonConfig
from core.tickets.commands import (
    AcceptTicket,
    ArriveOnSite,
    AssignTicket,
    OpenTicket,
    TransferTicket,
)
from core.tickets.model import Ticket
from core.tickets.workflow import Status
from tests.fakes.desk import MemoryDesk, make_actor

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 6, 10, 10, 0, tzinfo=SH)
PEOPLE = [
    PersonConfig(id="zhang", name="张伟", roles=["engineer"], wecom_userid="zhangwei"),
    PersonConfig(id="wang", name="王强", roles=["engineer"], wecom_userid="wangqiang"),
    PersonConfig(id="li", name="李娜", roles=["agent"], wecom_userid="lina"),
]


def actor(person_id: str) -> Actor:
    return make_actor(PEOPLE, person_id)


class Desk(MemoryDesk):
    def __init__(self) -> None:
        super().__init__(DeskConfig(people=PEOPLE, assignment={"auto_dispatch": False}), NOW)

    def ticket(self, ticket_id: int = 1) -> Ticket:
        return self.store.tickets[ticket_id]

    async def assigned(self, engineer: str = "zhang") -> Ticket:
        ticket = await self.handle(
            OpenTicket(
                actor=actor("c1"),
                requester_id="c1",
                title="注塑机报警 E31",
                fields={"device": "A-1024", "symptom": "报警 E31"},
            )
        )
        await self.handle(
            AssignTicket(actor=actor("li"), ticket_id=ticket.id, assignee_id=engineer)
        )
        return self.ticket(ticket.id)

    async def accepted(self, engineer: str = "zhang") -> Ticket:
        ticket = await self.assigned(engineer)
        await self.handle(AcceptTicket(actor=actor(engineer), ticket_id=ticket.id))
        self.store.outbox.clear()
        return self.ticket(ticket.id)

    def later(self, minutes: int) -> datetime:
        self.clock.set(NOW + timedelta(minutes=minutes))
        return NOW + timedelta(minutes=minutes)


@pytest.fixture
def dk() -> Desk:
    return Desk()


async def test_assignment_and_transfer_are_no_first_response_accept_is(dk: Desk) -> None:
    ticket = await dk.assigned()
    assert ticket.first_response_at is None
    dk.later(5)
    await dk.handle(TransferTicket(actor=actor("li"), ticket_id=1, to="王强"))
    assert dk.ticket().first_response_at is None and dk.ticket().assignee_id == "wang"
    at = dk.later(12)
    await dk.handle(AcceptTicket(actor=actor("wang"), ticket_id=1))
    assert dk.ticket().first_response_at == at


async def test_arrive_records_the_time_tells_both_and_a_second_check_in_is_a_visit(
    dk: Desk,
) -> None:
    await dk.accepted()
    at = dk.later(40)
    await dk.handle(ArriveOnSite(actor=actor("zhang"), ticket_id=1))
    ticket = dk.ticket()
    assert ticket.arrived_at == at
    entry = ticket.history[-1]
    assert entry.action == "arrived" and entry.actor_id == "zhang" and entry.at == at
    assert entry.data == {"first": True}
    told = {m.user_id: m.text for m in dk.store.outbox}
    assert "#1" in told["zhangwei"] and "10:40" in told["zhangwei"]
    assert "张伟" in told["c1"] and "#1" in told["c1"]

    dk.store.outbox.clear()
    dk.later(300)
    await dk.handle(ArriveOnSite(actor=actor("zhang"), ticket_id=1))
    assert dk.ticket().arrived_at == at  # the first check-in stays the arrival
    assert dk.ticket().history[-1].data == {"first": False}
    [again] = dk.store.outbox  # the customer is not told twice
    assert again.user_id == "zhangwei" and "再次到场" in again.text and "10:40" in again.text


async def test_a_shared_location_checks_in_the_one_job_in_progress(dk: Desk) -> None:
    await dk.accepted()
    at = dk.later(30)
    await dk.handle(
        ArriveOnSite(actor=actor("zhang"), latitude=31.2304, longitude=121.4737, label="人民大道")
    )
    ticket = dk.ticket()
    assert ticket.arrived_at == at
    assert ticket.history[-1].data == {
        "first": True, "latitude": 31.2304, "longitude": 121.4737, "label": "人民大道"
    }  # fmt: skip
    assert any("位置：人民大道" in m.text for m in dk.store.outbox)


async def test_a_location_with_two_jobs_in_progress_asks_which(dk: Desk) -> None:
    await dk.accepted()
    await dk.accepted()
    with pytest.raises(ValidationFailed) as err:
        await dk.handle(ArriveOnSite(actor=actor("zhang"), latitude=31.0, longitude=121.0))
    assert "#1" in err.value.message and "#2" in err.value.message and "到场 #" in err.value.message
    assert dk.ticket(1).arrived_at is None and dk.ticket(2).arrived_at is None
    # once one is checked in, a location means the other
    await dk.handle(ArriveOnSite(actor=actor("zhang"), ticket_id=1))
    await dk.handle(ArriveOnSite(actor=actor("zhang"), latitude=31.0, longitude=121.0))
    assert dk.ticket(2).arrived_at is not None


async def test_a_location_without_a_job_changes_nothing(dk: Desk) -> None:
    with pytest.raises(NotFound) as err:
        await dk.handle(ArriveOnSite(actor=actor("zhang"), latitude=31.0, longitude=121.0))
    assert "没有处理中的工单" in err.value.message


@pytest.mark.parametrize(
    ("who", "error", "words"),
    [
        ("wang", Forbidden, "没有派给您"),
        ("li", Forbidden, "只有负责的工程师"),
        ("c1", Forbidden, "只有"),
    ],
)
async def test_only_the_assigned_engineer_checks_in(
    dk: Desk, who: str, error: type[Exception], words: str
) -> None:
    await dk.accepted()
    with pytest.raises(error) as err:
        await dk.handle(ArriveOnSite(actor=actor(who), ticket_id=1))
    assert words in err.value.message and "#1" in err.value.message  # type: ignore[attr-defined]
    assert dk.ticket().arrived_at is None and dk.ticket().history[-1].action != "arrived"


async def test_not_before_accepting_nor_after_the_job_is_done(dk: Desk) -> None:
    await dk.assigned()
    with pytest.raises(InvalidTransition) as err:
        await dk.handle(ArriveOnSite(actor=actor("zhang"), ticket_id=1))
    assert "接单 #1" in err.value.message
    await dk.handle(AcceptTicket(actor=actor("zhang"), ticket_id=1))
    dk.ticket().status = Status.CLOSED
    with pytest.raises(InvalidTransition) as err:
        await dk.handle(ArriveOnSite(actor=actor("zhang"), ticket_id=1))
    assert "已关闭" in err.value.message
    with pytest.raises(NotFound):
        await dk.handle(ArriveOnSite(actor=actor("zhang"), ticket_id=99))
