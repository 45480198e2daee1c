"""SLA clocks on a fixed clock: pauses across the lunch break and a holiday, a priority changed
mid-way, a policy change recomputing open tickets; and hypothesis properties of the arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.messages import Actor
from core.settings import CalendarConfig, DeskConfig, PersonConfig, TicketTypeConfig
from core.sla.calendar import add_business_time, business_time_between, working_spans
from core.sla.clocks import Pause, humanize, left_text, reach
from core.sla.commands import RecomputeSla, ScanSla
from core.tickets.commands import (
    AcceptTicket,
    AssignTicket,
    ChangePriority,
    ChangeStatus,
    OpenTicket,
)
from tests.fakes.desk import MemoryDesk, make_actor
from tests.fakes.uow import MemoryStore

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 6, 10, 10, 0, tzinfo=SH)  # Tuesday, an ordinary working day
OFFICE = CalendarConfig(key="office")
PEOPLE = [
    PersonConfig(id="zhang", name="张伟", roles=["engineer"], wecom_userid="zhangwei"),
    PersonConfig(id="li", name="李娜", roles=["agent"], wecom_userid="lina"),
    PersonConfig(id="boss", name="赵敏", roles=["manager"], wecom_userid="zhaomin"),
]


def repair(**sla: Any) -> TicketTypeConfig:
    return TicketTypeConfig(key="repair", name="设备报修", sla=sla)


def actor(pid: str) -> Actor:
    return make_actor(PEOPLE, pid)


class Desk(MemoryDesk):
    def __init__(self, config: DeskConfig, store: MemoryStore | None = None) -> None:
        super().__init__(config, NOW, store)

    async def open(self, priority: str = "normal") -> int:
        ticket = await self.handle(
            OpenTicket(
                actor=actor("c1"), requester_id="c1", title="注塑机报警", priority=priority,
            )
        )  # fmt: skip
        return int(ticket.id)

    def at(self, when: datetime) -> None:
        self.clock.set(when)

    def clocks(self, ticket_id: int = 1) -> dict[str, Any]:
        return self.store.sla[ticket_id]


def sh(day: int, hour: int, minute: int = 0, month: int = 6) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=SH)


def config(**sla: Any) -> DeskConfig:
    return DeskConfig(
        people=PEOPLE, assignment={"auto_dispatch": False}, ticket_types=[repair(**sla)]
    )


NORMAL = {"calendar": "office", "response_minutes": 120, "resolve_minutes": 960}


async def test_clocks_are_stored_when_a_ticket_opens() -> None:
    dk = Desk(config(normal={**NORMAL, "arrival_minutes": 240}))
    await dk.open()
    c = dk.clocks()
    assert set(c) == {"response", "arrival", "resolve"}
    assert c["response"].due_at == sh(10, 12) and c["response"].warn_at == sh(10, 11, 30)
    assert c["arrival"].due_at == sh(10, 15)  # 10:00-12:00, 13:00-15:00
    assert c["resolve"].due_at == sh(12, 10)  # Tue 420 + Wed 480 + Thu 60
    assert dk.store.tickets[1].resolve_due_at == sh(12, 10)


async def test_accept_meets_the_response_and_assignment_does_not() -> None:
    dk = Desk(config(normal=NORMAL))
    await dk.open()
    dk.at(sh(10, 10, 20))
    await dk.handle(AssignTicket(actor=actor("li"), ticket_id=1, assignee_id="zhang"))
    assert dk.clocks()["response"].met_at is None
    dk.at(sh(10, 10, 45))
    await dk.handle(AcceptTicket(actor=actor("zhang"), ticket_id=1))
    response = dk.clocks()["response"]
    assert response.met_at == sh(10, 10, 45) and response.met(sh(10, 11)) is True
    assert response.check_at is None  # nothing more to watch


async def accepted(dk: Desk) -> None:
    await dk.open()
    await dk.handle(AssignTicket(actor=actor("li"), ticket_id=1, assignee_id="zhang"))
    await dk.handle(AcceptTicket(actor=actor("zhang"), ticket_id=1))


async def test_a_pause_across_the_lunch_break_adds_its_working_time_back() -> None:
    dk = Desk(config(normal=NORMAL))
    await accepted(dk)
    dk.at(sh(10, 11, 30))
    await dk.handle(ChangeStatus(actor=actor("zhang"), ticket_id=1, status="waiting_parts"))
    resolve = dk.clocks()["resolve"]
    assert resolve.paused and resolve.due_at is None and resolve.check_at is None
    assert dk.store.tickets[1].resolve_due_at is None  # not overdue while paused
    assert left_text(OFFICE, resolve, sh(10, 13, 30)).startswith("已暂停，剩余 14小时30分")
    dk.at(sh(10, 14, 0))
    await dk.handle(ChangeStatus(actor=actor("zhang"), ticket_id=1, status="accepted"))
    resolve = dk.clocks()["resolve"]
    # paused 11:30-12:00 and 13:00-14:00: 90 working minutes; Thu 10:00 becomes Thu 11:30
    assert resolve.due_at == sh(12, 11, 30)
    assert resolve.pauses == (Pause(sh(10, 11, 30), sh(10, 14), "waiting_parts"),)
    assert dk.clocks()["response"].due_at == sh(10, 12)  # the response clock never pauses


async def test_a_holiday_inside_a_pause_is_no_working_time() -> None:
    # 2025 Dragon Boat Festival: Sat 31 May - Mon 2 June off (Monday a statutory holiday)
    dk = Desk(config(normal=NORMAL))
    dk.clock.set(sh(30, 9, month=5))
    await accepted(dk)
    before = dk.clocks()["resolve"].due_at
    dk.at(sh(30, 17, month=5))
    await dk.handle(ChangeStatus(actor=actor("zhang"), ticket_id=1, status="waiting_customer"))
    dk.at(sh(3, 10))
    await dk.handle(ChangeStatus(actor=actor("zhang"), ticket_id=1, status="accepted"))
    after = dk.clocks()["resolve"].due_at
    # Fri 17:00-18:00 and Tue 09:00-10:00 only: 120 minutes
    assert business_time_between(OFFICE, before, after) == timedelta(minutes=120)
    assert after == add_business_time(OFFICE, before, timedelta(minutes=120))


async def test_a_priority_changed_mid_way_recomputes_from_the_start() -> None:
    dk = Desk(config(normal=NORMAL, urgent={"calendar": "office", "response_minutes": 30,
                                            "resolve_minutes": 240}))  # fmt: skip
    await dk.open()
    dk.at(sh(10, 10, 10))
    await dk.handle(ChangePriority(actor=actor("li"), ticket_id=1, priority="urgent"))
    c = dk.clocks()
    assert c["response"].due_at == sh(10, 10, 30) and c["resolve"].due_at == sh(10, 15)
    assert dk.store.tickets[1].history[-1].action == "priority_changed"
    dk.at(sh(10, 10, 25))
    await dk.handle(ScanSla(actor=Actor.system()))  # 10:22:30 was the warn time
    assert dk.clocks()["response"].warned_at == sh(10, 10, 25)
    dk.at(sh(10, 10, 26))
    await dk.handle(ChangePriority(actor=actor("li"), ticket_id=1, priority="normal"))
    await dk.handle(ChangePriority(actor=actor("li"), ticket_id=1, priority="urgent"))
    assert dk.clocks()["response"].warned_at == sh(10, 10, 25)  # kept: not warned twice
    assert dk.clocks()["response"].check_at == sh(10, 10, 30)  # only the breach is left


async def test_a_policy_change_recomputes_the_open_tickets_only() -> None:
    dk = Desk(config(normal=NORMAL))
    await dk.open()
    await dk.open()
    dk.store.tickets[2].status = dk.store.tickets[2].status.CANCELLED
    old2 = dk.clocks(2)["response"].due_at
    dk.at(sh(10, 11, 35))
    await dk.handle(ScanSla(actor=Actor.system()))
    assert dk.clocks(1)["response"].warned_at == sh(10, 11, 35)
    # restart with a tighter policy: 60 minutes to respond
    new = Desk(config(normal={**NORMAL, "response_minutes": 60}), store=dk.store)
    new.at(sh(10, 11, 40))
    assert await new.handle(RecomputeSla(actor=Actor.system())) == 1
    assert await new.handle(RecomputeSla(actor=Actor.system(), after_id=1)) == 0
    assert new.clocks(1)["response"].due_at == sh(10, 11)
    assert new.clocks(2)["response"].due_at == old2  # cancelled: left alone
    assert new.clocks(1)["response"].warned_at == sh(10, 11, 35)  # no second warning
    assert new.store.tickets[1].response_due_at == sh(10, 11)


# --- properties ------------------------------------------------------------------------------

starts = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2026, 6, 30), timezones=st.just(SH)
)


def inside_working_time(cal: CalendarConfig, at: datetime) -> bool:
    local = at.astimezone(ZoneInfo(cal.timezone))
    for day in (local.date(), local.date() - timedelta(days=1)):
        for begin, end in working_spans(cal, day):
            lo = datetime.combine(day, begin, local.tzinfo)
            hi = (
                datetime.combine(day + timedelta(days=1), time(0), local.tzinfo)
                if end == time.max
                else datetime.combine(day, end, local.tzinfo)
            )
            if lo <= local <= hi:
                return True
    return False


@settings(max_examples=150, deadline=None)
@given(start=starts, minutes=st.integers(min_value=1, max_value=5000))
def test_a_due_time_never_lies_outside_working_time(start: datetime, minutes: int) -> None:
    due = reach(OFFICE, start, timedelta(minutes=minutes), [])
    assert due is not None and inside_working_time(OFFICE, due)
    assert business_time_between(OFFICE, start, due) == timedelta(minutes=minutes)


@settings(max_examples=150, deadline=None)
@given(
    start=starts,
    minutes=st.integers(min_value=1, max_value=3000),
    offset=st.integers(min_value=0, max_value=3000),
    length=st.integers(min_value=0, max_value=6000),
)
def test_pausing_x_working_minutes_moves_the_due_time_by_exactly_x(
    start: datetime, minutes: int, offset: int, length: int
) -> None:
    due = reach(OFFICE, start, timedelta(minutes=minutes), [])
    assert due is not None
    pause_start = start + timedelta(minutes=offset)
    pause = Pause(pause_start, pause_start + timedelta(minutes=length), "waiting_parts")
    x = business_time_between(OFFICE, pause.start, pause.end or pause.start)
    moved = reach(OFFICE, start, timedelta(minutes=minutes), [pause])
    assert moved is not None
    if pause.start < due:
        assert business_time_between(OFFICE, due, moved) == x
        assert inside_working_time(OFFICE, moved)
    else:
        assert moved == due  # a pause after the due time changes nothing


def test_humanize() -> None:
    assert humanize(timedelta(minutes=80)) == "1小时20分"
    assert humanize(timedelta(minutes=3 * 1440 + 5)) == "3天5分"
    assert humanize(timedelta(seconds=10)) == "1分"
    assert humanize(timedelta(0)) == "0分"


def test_a_start_outside_working_time_counts_from_the_next_working_minute() -> None:
    saturday = datetime(2025, 6, 14, 22, 0, tzinfo=SH).astimezone(UTC)
    assert reach(OFFICE, saturday, timedelta(minutes=30), []) == sh(16, 9, 30)


async def test_show_lines_name_each_target_its_state_and_its_pauses() -> None:
    from core.sla.views import lines

    dk = Desk(config(normal={**NORMAL, "arrival_minutes": 240}))
    await accepted(dk)
    dk.at(sh(10, 11, 30))
    await dk.handle(ChangeStatus(actor=actor("zhang"), ticket_id=1, status="waiting_parts"))
    dk.at(sh(10, 14, 0))
    await dk.handle(ChangeStatus(actor=actor("zhang"), ticket_id=1, status="accepted"))
    shown = lines(dk.config, dk.clocks(), sh(10, 14, 0))
    assert shown[0] == "响应时限：06-10 12:00｜已达成（06-10 10:00）"
    assert shown[1] == "到场时限：06-10 15:00｜剩余 1小时（工作时间）"
    assert shown[2] == "解决时限：06-12 11:30｜剩余 14小时30分（工作时间）"
    assert shown[3] == "  暂停 06-10 11:30–06-10 14:00（等待备件）"
    late = lines(dk.config, dk.clocks(), sh(10, 16, 0))
    assert late[1] == "到场时限：06-10 15:00｜已超时 1小时（工作时间）"


def test_a_year_without_holiday_data_falls_back_to_weekends_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from datetime import date

    from core.sla import calendar as cal_mod

    first, last = cal_mod.covered_years()
    beyond = last + 1
    notes = cal_mod.coverage_notes([OFFICE, CalendarConfig(key="plain", holidays="none")],
                                   date(last, 12, 1))  # fmt: skip
    assert len(notes) == 1 and f"{beyond} 年按仅周末休息计算" in notes[0]
    assert f"chinese-calendar>{cal_mod.DATA_VERSION}" in notes[0] and "calendars.office" in notes[0]
    assert cal_mod.coverage_notes([OFFICE], date(first, 3, 1)) == []
    cal_mod._fallback_years.discard(beyond)
    # the first Monday of that year: a working day by the weekly pattern; the weekend is off
    monday = date(beyond, 1, 1) + timedelta(days=(7 - date(beyond, 1, 1).weekday()) % 7)
    with caplog.at_level("WARNING"):
        assert working_spans(OFFICE, monday) != ()
        assert working_spans(OFFICE, monday - timedelta(days=1)) == ()  # Sunday
        working_spans(OFFICE, monday + timedelta(days=1))
    warned = [r for r in caplog.records if str(beyond) in r.getMessage()]
    assert len(warned) == 1  # logged once for the year
