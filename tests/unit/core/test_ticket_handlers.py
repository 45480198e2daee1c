"""The ticket core through the MessageBus, with the in-memory unit of work and a fixed clock."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core.bus import DUPLICATE, MessageBus
from core.clock import FixedClock
from core.errors import Forbidden, InvalidTransition, NotFound, ValidationFailed
from core.messages import Actor, Channel
from core.people.directory import person_from_config
from core.people.model import Person, PersonKind
from core.settings import (
    AssetConfig,
    CustomField,
    DeskConfig,
    FieldType,
    PersonConfig,
    TicketTypeConfig,
)
from core.tickets.commands import AddNote, AssignTicket, ChangeStatus, OpenTicket
from core.tickets.handlers import COMMAND_HANDLERS, EVENT_HANDLERS
from core.tickets.model import Priority, Ticket
from core.tickets.workflow import STATUS_ZH, TRANSITIONS, Status
from tests.fakes.uow import MemoryStore, MemoryUnitOfWork

SH = ZoneInfo("Asia/Shanghai")
# Tuesday 2025-06-10 10:00 in Shanghai: an ordinary working day (no holiday near it).
NOW = datetime(2025, 6, 10, 10, 0, tzinfo=SH)

PEOPLE = [
    PersonConfig(id="zhang", name="张伟", roles=["engineer"], wecom_userid="zhangwei"),
    PersonConfig(id="wang", name="王强", roles=["engineer"], dingtalk_userid="0456"),
    PersonConfig(id="li", name="李娜", roles=["agent"]),
    PersonConfig(id="boss", name="赵敏", roles=["manager"]),
    PersonConfig(id="ku", name="库管老周", roles=["stock_keeper"]),
]

INSPECT = TicketTypeConfig(
    key="inspect",
    name="巡检",
    fields=[
        CustomField(key="device", label="设备编号", type=FieldType.ASSET, required=True),
        CustomField(key="remark", label="备注", type=FieldType.TEXT, max_length=10),
        CustomField(key="count", label="数量", type=FieldType.NUMBER, min=1, max=5),
        CustomField(key="level", label="级别", type=FieldType.CHOICE, choices=["A", "B"]),
        CustomField(key="day", label="日期", type=FieldType.DATE),
        CustomField(key="photos", label="照片", type=FieldType.IMAGES),
    ],
)


def desk(**kwargs: Any) -> DeskConfig:
    base: dict[str, Any] = {"people": PEOPLE}
    base.update(kwargs)
    return DeskConfig(**base)


def actor(person_id: str, channel: Channel = Channel.WECOM) -> Actor:
    cfg = next((p for p in PEOPLE if p.id == person_id), None)
    if cfg is None:  # a customer
        return Actor(person_id=person_id, name=f"客户{person_id}", channel=channel)
    return person_from_config(cfg).actor(channel)


class Desk:
    """A bus over a MemoryStore, plus helpers to read the store back."""

    def __init__(self, config: DeskConfig) -> None:
        self.store = MemoryStore()
        for cfg in config.people:
            self.store.people[cfg.id] = person_from_config(cfg)
        for cid in ("c1", "c2"):
            self.store.people[cid] = Person(
                id=cid, name=f"客户{cid}", kind=PersonKind.CUSTOMER, identities={"wecom": cid}
            )
        self.clock = FixedClock(NOW)
        self.bus = MessageBus(
            uow_factory=lambda: MemoryUnitOfWork(self.store),
            clock=self.clock,
            config=config,
            command_handlers=dict(COMMAND_HANDLERS),
            event_handlers={k: list(v) for k, v in EVENT_HANDLERS.items()},
        )

    async def open(self, **kwargs: Any) -> Ticket:
        kwargs.setdefault("actor", actor("c1"))
        kwargs.setdefault("requester_id", "c1")
        kwargs.setdefault("title", "注塑机报警 E31")
        kwargs.setdefault("fields", {"device": "A-1024", "symptom": "报警 E31"})
        return await self.bus.handle(OpenTicket(**kwargs))

    def ticket(self, ticket_id: int = 1) -> Ticket:
        return self.store.tickets[ticket_id]

    def put(self, ticket: Ticket) -> None:
        """Seed the store (the fake database) with a ticket in any state."""
        self.store.tickets[ticket.id] = ticket
        self.store.counter = max(self.store.counter, ticket.id)

    def snapshot(self) -> tuple[Any, ...]:
        t = self.ticket()
        return (
            t.status,
            t.assignee_id,
            t.version,
            len(t.history),
            t.resolved_at,
            t.closed_at,
            t.first_response_at,
            len(self.store.outbox),
            self.store.counter,
        )


@pytest.fixture
def dk() -> Desk:
    return Desk(desk())


def seeded(status: Status, *, assignee: str | None = "zhang") -> Ticket:
    return Ticket(
        id=1,
        type="repair",
        title="注塑机报警",
        requester_id="c1",
        assignee_id=assignee,
        status=status,
        created_at=NOW.astimezone(UTC),
        updated_at=NOW.astimezone(UTC),
    )


# --- OpenTicket --------------------------------------------------------------------------


async def test_open_ticket_happy_path(dk: Desk) -> None:
    ticket = await dk.open(
        reply_platform="wecom",
        reply_user_id="c1",
        description="  E31 报警，停机  ",
        priority="normal",
    )
    assert ticket.id == 1 and ticket.ref == "#1"
    stored = dk.ticket(1)
    assert stored.status is Status.NEW
    assert stored.type == "repair"  # the first configured type by default
    assert stored.description == "E31 报警，停机"
    assert stored.fields == {"device": "A-1024", "symptom": "报警 E31"}
    assert stored.requester_id == "c1"
    assert stored.channel == "wecom"
    assert stored.created_at == NOW

    [entry] = stored.history
    assert entry.action == "opened"
    assert (entry.actor_id, entry.actor_name, entry.channel) == ("c1", "客户c1", "wecom")
    assert entry.at == NOW
    assert entry.data["priority"] == "normal" and entry.data["requester"] == "c1"

    # normal priority defaults: respond within 120, resolve within 960 business minutes on the
    # office calendar (09:00-12:00, 13:00-18:00). Tue 10:00 + 120 min = Tue 12:00;
    # + 960 min = Tue 420 + Wed 480 + Thu 60 = Thu 2025-06-12 10:00.
    assert stored.response_due_at == datetime(2025, 6, 10, 12, 0, tzinfo=SH)
    assert stored.resolve_due_at == datetime(2025, 6, 12, 10, 0, tzinfo=SH)

    [reply] = dk.store.outbox
    assert reply.platform == "wecom" and reply.user_id == "c1"
    assert reply.dedupe_key == "t1:opened"
    assert reply.ticket_id == 1
    assert "#1" in reply.text and "设备报修" in reply.text and "06-10 12:00" in reply.text


async def test_refs_count_from_one_and_no_reply_without_platform(dk: Desk) -> None:
    refs = [(await dk.open()).ref for _ in range(3)]
    assert refs == ["#1", "#2", "#3"]
    assert dk.store.outbox == []


async def test_sla_per_priority_and_per_type_targets() -> None:
    urgent_type = TicketTypeConfig(
        key="hotline",
        name="热线",
        sla={"urgent": {"calendar": "office", "response_minutes": 5, "resolve_minutes": 90}},
    )
    dk = Desk(desk(ticket_types=[urgent_type]))
    ticket = await dk.open(type="hotline", priority="urgent", fields={})
    assert ticket.priority is Priority.URGENT
    assert ticket.response_due_at == datetime(2025, 6, 10, 10, 5, tzinfo=SH)
    # 10:00 + 90 business minutes = 11:30, before lunch
    assert ticket.resolve_due_at == datetime(2025, 6, 10, 11, 30, tzinfo=SH)
    low = await dk.open(type="hotline", priority="low", fields={})
    # no target for low: the default 480 / 2880 minutes apply
    # 480 = Tue 10:00-12:00 (120) + 13:00-18:00 (300) + Wed 09:00-10:00 (60)
    assert low.response_due_at == datetime(2025, 6, 11, 10, 0, tzinfo=SH)


async def test_agent_may_open_for_someone_else_with_api_channel(dk: Desk) -> None:
    ticket = await dk.open(actor=actor("li", Channel.API), requester_id="c2")
    assert ticket.requester_id == "c2"
    assert dk.ticket(1).history[0].actor_id == "li"
    assert dk.ticket(1).history[0].channel == "api"


async def test_customer_opening_for_someone_else_is_forbidden(dk: Desk) -> None:
    with pytest.raises(Forbidden):
        await dk.open(actor=actor("c1"), requester_id="c2")
    assert dk.store.tickets == {} and dk.store.outbox == [] and dk.store.counter == 0


async def test_engineer_cannot_open_for_a_customer(dk: Desk) -> None:
    with pytest.raises(Forbidden):
        await dk.open(actor=actor("zhang"), requester_id="c1")
    assert dk.store.tickets == {}


async def test_unknown_requester(dk: Desk) -> None:
    with pytest.raises(ValidationFailed) as err:
        await dk.open(actor=actor("li"), requester_id="nobody")
    assert [e.field for e in err.value.errors] == ["requester"]
    assert dk.store.tickets == {}


async def test_unknown_type_is_refused(dk: Desk) -> None:
    with pytest.raises(ValidationFailed) as err:
        await dk.open(type="teleport")
    assert [e.field for e in err.value.errors] == ["type"]
    assert "teleport" in err.value.message and "repair" in err.value.message
    assert dk.store.tickets == {}


@pytest.mark.parametrize("priority", ["urgent!", "", "NORMAL", "critical"])
async def test_bad_priority_is_refused(dk: Desk, priority: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        await dk.open(priority=priority)
    assert [e.field for e in err.value.errors] == ["priority"]
    assert dk.store.tickets == {}


@pytest.mark.parametrize("title", ["", "   ", "x" * 201])
async def test_bad_title_is_refused(dk: Desk, title: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        await dk.open(title=title)
    assert [e.field for e in err.value.errors] == ["title"]


async def test_every_problem_is_reported_at_once(dk: Desk) -> None:
    with pytest.raises(ValidationFailed) as err:
        await dk.open(title="", priority="bad", fields={"symptom": "x", "colour": "red"})
    fields = sorted(e.field for e in err.value.errors)
    assert fields == ["fields.colour", "fields.device", "priority", "title"]


# --- custom fields -----------------------------------------------------------------------


@pytest.fixture
def inspect_desk() -> Desk:
    return Desk(desk(ticket_types=[INSPECT], assets=[AssetConfig(id="A-1024", name="注塑机")]))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"device": " A-1024 "}, {"device": "A-1024"}),
        (
            {"device": "A-1024", "remark": "  十个字以内  "},
            {"device": "A-1024", "remark": "十个字以内"},
        ),
        ({"device": "A-1024", "count": "3"}, {"device": "A-1024", "count": 3}),
        ({"device": "A-1024", "count": 2.5}, {"device": "A-1024", "count": 2.5}),
        ({"device": "A-1024", "count": 5}, {"device": "A-1024", "count": 5}),
        ({"device": "A-1024", "level": "B"}, {"device": "A-1024", "level": "B"}),
        ({"device": "A-1024", "day": "2025-06-30"}, {"device": "A-1024", "day": "2025-06-30"}),
        (
            {"device": "A-1024", "photos": ["m1", "m2"]},
            {"device": "A-1024", "photos": ["m1", "m2"]},
        ),
        # empty optional values are dropped, not stored
        ({"device": "A-1024", "remark": "", "photos": []}, {"device": "A-1024"}),
    ],
)
async def test_custom_fields_accepted_and_normalised(
    inspect_desk: Desk, values: dict[str, Any], expected: dict[str, Any]
) -> None:
    ticket = await inspect_desk.open(type="inspect", fields=values)
    assert inspect_desk.ticket(ticket.id).fields == expected


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({}, "fields.device"),  # required
        ({"device": "   "}, "fields.device"),
        ({"device": "Z-9999"}, "fields.device"),  # not in the assets catalogue
        ({"device": 1024}, "fields.device"),
        ({"device": "A" * 65}, "fields.device"),
        ({"device": "A-1024", "remark": "这一段备注超过了十个字的上限"}, "fields.remark"),
        ({"device": "A-1024", "remark": 5}, "fields.remark"),
        ({"device": "A-1024", "count": "three"}, "fields.count"),
        ({"device": "A-1024", "count": 0}, "fields.count"),  # below min
        ({"device": "A-1024", "count": 6}, "fields.count"),  # above max
        ({"device": "A-1024", "count": True}, "fields.count"),
        ({"device": "A-1024", "count": "nan"}, "fields.count"),
        ({"device": "A-1024", "count": "inf"}, "fields.count"),
        ({"device": "A-1024", "count": [1]}, "fields.count"),
        ({"device": "A-1024", "level": "C"}, "fields.level"),
        ({"device": "A-1024", "level": "a"}, "fields.level"),
        ({"device": "A-1024", "day": "2025-02-30"}, "fields.day"),
        ({"device": "A-1024", "day": "30/06/2025"}, "fields.day"),
        ({"device": "A-1024", "photos": "m1"}, "fields.photos"),
        ({"device": "A-1024", "photos": ["m1", ""]}, "fields.photos"),
        ({"device": "A-1024", "photos": [f"m{i}" for i in range(10)]}, "fields.photos"),
        ({"device": "A-1024", "colour": "red"}, "fields.colour"),  # not a field of this type
    ],
)
async def test_custom_fields_refused_with_their_path(
    inspect_desk: Desk, values: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationFailed) as err:
        await inspect_desk.open(type="inspect", fields=values)
    assert [e.field for e in err.value.errors] == [field]
    assert err.value.errors[0].message  # a message to show a person
    assert inspect_desk.store.tickets == {}


async def test_asset_without_catalogue_accepts_any_serial() -> None:
    dk = Desk(desk(ticket_types=[INSPECT]))  # no assets configured
    ticket = await dk.open(type="inspect", fields={"device": "SN-77881"})
    assert dk.ticket(ticket.id).fields == {"device": "SN-77881"}


# --- roles -------------------------------------------------------------------------------


async def test_customer_cannot_change_status(dk: Desk) -> None:
    await dk.open()
    before = dk.snapshot()
    with pytest.raises(Forbidden):
        await dk.bus.handle(ChangeStatus(actor=actor("c1"), ticket_id=1, status="cancelled"))
    assert dk.snapshot() == before


async def test_engineer_who_is_not_the_assignee_cannot_change_status(dk: Desk) -> None:
    dk.put(seeded(Status.ACCEPTED, assignee="zhang"))
    before = dk.snapshot()
    with pytest.raises(Forbidden) as err:
        await dk.bus.handle(ChangeStatus(actor=actor("wang"), ticket_id=1, status="resolved"))
    assert "#1" in err.value.message
    assert dk.snapshot() == before


async def test_stock_keeper_cannot_change_status(dk: Desk) -> None:
    dk.put(seeded(Status.ACCEPTED))
    with pytest.raises(Forbidden):
        await dk.bus.handle(ChangeStatus(actor=actor("ku"), ticket_id=1, status="resolved"))
    assert dk.ticket().status is Status.ACCEPTED


async def test_assigned_engineer_can_change_status(dk: Desk) -> None:
    dk.put(seeded(Status.ACCEPTED, assignee="zhang"))
    await dk.bus.handle(ChangeStatus(actor=actor("zhang"), ticket_id=1, status="resolved"))
    t = dk.ticket()
    assert t.status is Status.RESOLVED and t.resolved_at == NOW
    assert t.first_response_at == NOW


@pytest.mark.parametrize("who", ["c1", "zhang", "ku"])
async def test_only_agents_and_managers_assign(dk: Desk, who: str) -> None:
    await dk.open()
    before = dk.snapshot()
    with pytest.raises(Forbidden):
        await dk.bus.handle(AssignTicket(actor=actor(who), ticket_id=1, assignee_id="zhang"))
    assert dk.snapshot() == before


@pytest.mark.parametrize("assignee", ["li", "c1", "ghost"])
async def test_assignee_must_be_an_engineer(dk: Desk, assignee: str) -> None:
    await dk.open()
    before = dk.snapshot()
    with pytest.raises(ValidationFailed) as err:
        await dk.bus.handle(AssignTicket(actor=actor("li"), ticket_id=1, assignee_id=assignee))
    assert [e.field for e in err.value.errors] == ["assignee"]
    assert dk.snapshot() == before


async def test_assign_records_history(dk: Desk) -> None:
    await dk.open()
    dk.clock.advance(minutes=7)
    await dk.bus.handle(
        AssignTicket(actor=actor("boss", Channel.WEB), ticket_id=1, assignee_id="zhang")
    )
    t = dk.ticket()
    assert t.status is Status.ASSIGNED and t.assignee_id == "zhang"
    assert t.first_response_at is None  # an assignment is no response to the customer
    last = t.history[-1]
    assert (last.action, last.actor_id, last.channel) == ("status_changed", "boss", "web")
    assert last.data["from"] == "new" and last.data["to"] == "assigned"
    assert last.data["assignee"] == "zhang"
    assert last.at == dk.clock.now()


async def test_customer_cannot_add_a_note(dk: Desk) -> None:
    await dk.open()
    before = dk.snapshot()
    with pytest.raises(Forbidden):
        await dk.bus.handle(AddNote(actor=actor("c1"), ticket_id=1, text="快点"))
    assert dk.snapshot() == before


async def test_staff_note_is_recorded(dk: Desk) -> None:
    await dk.open()
    await dk.bus.handle(
        AddNote(actor=actor("zhang", Channel.DINGTALK), ticket_id=1, text="  带上滤芯  ")
    )
    last = dk.ticket().history[-1]
    assert last.action == "note" and last.channel == "dingtalk" and last.actor_id == "zhang"
    assert last.data == {"text": "带上滤芯", "internal": True}


async def test_empty_note_is_refused(dk: Desk) -> None:
    await dk.open()
    with pytest.raises(ValidationFailed):
        await dk.bus.handle(AddNote(actor=actor("li"), ticket_id=1, text="   "))
    assert len(dk.ticket().history) == 1


@pytest.mark.parametrize(
    "command",
    [
        ChangeStatus(actor=actor("li"), ticket_id=99, status="cancelled"),
        AssignTicket(actor=actor("li"), ticket_id=99, assignee_id="zhang"),
        AddNote(actor=actor("li"), ticket_id=99, text="x"),
    ],
)
async def test_unknown_ticket_is_not_found(dk: Desk, command: Any) -> None:
    with pytest.raises(NotFound) as err:
        await dk.bus.handle(command)
    assert "#99" in err.value.message


async def test_unknown_status_is_a_validation_error(dk: Desk) -> None:
    await dk.open()
    with pytest.raises(ValidationFailed) as err:
        await dk.bus.handle(ChangeStatus(actor=actor("li"), ticket_id=1, status="done"))
    assert [e.field for e in err.value.errors] == ["status"]


# --- the workflow table ------------------------------------------------------------------

LEGAL = sorted((a, b) for a, targets in TRANSITIONS.items() for b in targets)
ILLEGAL = sorted((a, b) for a, b in itertools.product(Status, Status) if b not in TRANSITIONS[a])


def test_the_table_has_both_kinds() -> None:
    assert len(LEGAL) + len(ILLEGAL) == len(Status) ** 2
    assert (Status.NEW, Status.CLOSED) in ILLEGAL and (Status.CLOSED, Status.NEW) in ILLEGAL


@pytest.mark.parametrize(("current", "target"), ILLEGAL, ids=lambda s: s.value)
async def test_illegal_transition_is_refused_and_changes_nothing(
    dk: Desk, current: Status, target: Status
) -> None:
    dk.put(seeded(current))
    before = dk.snapshot()
    with pytest.raises(InvalidTransition) as err:
        await dk.bus.handle(ChangeStatus(actor=actor("boss"), ticket_id=1, status=target.value))
    message = err.value.message
    assert f"当前状态为{STATUS_ZH[current]}（{current.value}）" in message
    assert "#1" in message and target.value in message
    assert err.value.field == "status"
    assert dk.snapshot() == before


@pytest.mark.parametrize(("current", "target"), LEGAL, ids=lambda s: s.value)
async def test_legal_transition_is_recorded(dk: Desk, current: Status, target: Status) -> None:
    dk.put(seeded(current))
    dk.clock.advance(hours=1)
    await dk.bus.handle(
        ChangeStatus(actor=actor("li", Channel.WEB), ticket_id=1, status=target.value, note="ok")
    )
    t = dk.ticket()
    assert t.status is target
    assert t.version == 1
    [entry] = t.history
    assert entry.action == "status_changed"
    assert entry.data == {"from": current.value, "to": target.value, "note": "ok"}
    assert (entry.actor_id, entry.channel, entry.at) == ("li", "web", dk.clock.now())
    if target is Status.RESOLVED:
        assert t.resolved_at == dk.clock.now()
    if target is Status.CLOSED:
        assert t.closed_at == dk.clock.now()


async def test_reopening_a_resolved_ticket_clears_resolved_at(dk: Desk) -> None:
    dk.put(seeded(Status.ACCEPTED))
    await dk.bus.handle(ChangeStatus(actor=actor("li"), ticket_id=1, status="resolved"))
    assert dk.ticket().resolved_at == NOW
    await dk.bus.handle(ChangeStatus(actor=actor("li"), ticket_id=1, status="accepted"))
    assert dk.ticket().resolved_at is None
    assert [e.data["to"] for e in dk.ticket().history] == ["resolved", "accepted"]


async def test_assign_on_a_closed_ticket_is_an_invalid_transition(dk: Desk) -> None:
    dk.put(seeded(Status.CLOSED))
    before = dk.snapshot()
    with pytest.raises(InvalidTransition) as err:
        await dk.bus.handle(AssignTicket(actor=actor("li"), ticket_id=1, assignee_id="wang"))
    assert "closed" in err.value.message
    assert dk.snapshot() == before


# --- idempotency -------------------------------------------------------------------------


async def test_same_open_source_twice_opens_once(dk: Desk) -> None:
    first = await dk.open(source="inbox:7:0", reply_platform="wecom", reply_user_id="c1")
    assert first.ref == "#1"
    before = (dict(dk.store.tickets), len(dk.store.outbox), dk.store.counter)
    second = await dk.open(source="inbox:7:0", reply_platform="wecom", reply_user_id="c1")
    assert second is DUPLICATE
    assert (dict(dk.store.tickets), len(dk.store.outbox), dk.store.counter) == before
    assert list(dk.store.tickets) == [1]


async def test_same_status_source_twice_changes_once(dk: Desk) -> None:
    dk.put(seeded(Status.ASSIGNED))
    cmd = ChangeStatus(actor=actor("zhang"), ticket_id=1, status="accepted", source="req-1")
    await dk.bus.handle(cmd)
    before = dk.snapshot()
    assert await dk.bus.handle(cmd) is DUPLICATE
    assert dk.snapshot() == before
    assert len(dk.ticket().history) == 1


async def test_same_note_source_twice_notes_once(dk: Desk) -> None:
    await dk.open()
    cmd = AddNote(actor=actor("li"), ticket_id=1, text="已电话联系", source="api:abc")
    await dk.bus.handle(cmd)
    assert await dk.bus.handle(cmd) is DUPLICATE
    assert [e.action for e in dk.ticket().history] == ["opened", "note"]


async def test_a_refused_command_does_not_use_up_its_source(dk: Desk) -> None:
    dk.put(seeded(Status.NEW))
    with pytest.raises(InvalidTransition):
        await dk.bus.handle(
            ChangeStatus(actor=actor("li"), ticket_id=1, status="closed", source="s-1")
        )
    # the same source with a valid command is not a duplicate: the refusal rolled back
    ticket = await dk.bus.handle(
        ChangeStatus(actor=actor("li"), ticket_id=1, status="cancelled", source="s-1")
    )
    assert ticket.status is Status.CANCELLED
    assert dk.ticket().status is Status.CANCELLED


async def test_commands_without_source_are_not_deduplicated(dk: Desk) -> None:
    await dk.open()
    await dk.open()
    assert sorted(dk.store.tickets) == [1, 2]
