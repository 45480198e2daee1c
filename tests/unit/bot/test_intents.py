"""bot/intents.decide: chat text, photos and card clicks into commands, replies and dialogs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot import texts
from bot.inbound import CardAction, ChatMessage, Location, Media, MessageKind
from bot.intents import KEEP, OpenFact, Query, Situation, decide
from cards.actions import ActionKind, ActionRef, BadAction, Signer
from core.messages import Actor, Channel
from core.parts.commands import DecidePartsRequest, RequestParts
from core.settings import AssetConfig, DeskConfig
from core.tickets.commands import (
    AcceptTicket,
    AddCustomerMessage,
    ArriveOnSite,
    CompleteTicket,
    DeclineTicket,
    OpenTicket,
    RateTicket,
    ReopenTicket,
)

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
SECRET = b"k" * 32
CUSTOMER = Actor(person_id="c1", name="客户", channel=Channel.WECOM)
ENGINEER = Actor(
    person_id="zhang", name="张伟", roles=frozenset({"engineer"}), channel=Channel.WECOM
)
MANAGER = Actor(person_id="chen", name="陈总", roles=frozenset({"manager"}), channel=Channel.WECOM)
CONFIG = DeskConfig(assets=[AssetConfig(id="A-1024"), AssetConfig(id="A-2048")])


def text(t: str, *, media: tuple[Media, ...] = ()) -> ChatMessage:
    kind = MessageKind.TEXT if t else MessageKind.IMAGE
    return ChatMessage(
        platform="wecom", dedupe_key="k", user_id="u1", kind=kind, text=t, media=media
    )


def photo(media_id: str) -> ChatMessage:
    return text("", media=(Media(kind="image", media_id=media_id),))


def run(msg, actor=CUSTOMER, dialog=None, open_tickets=()):
    return decide(msg, actor=actor, config=CONFIG, secret=SECRET,
                  situation=Situation(now=NOW, dialog=dialog, open_tickets=open_tickets))  # fmt: skip


def test_a_complete_report_opens_a_ticket_at_once() -> None:
    d = run(text("报修 A-1024 注塑机报警 E31"))
    (cmd,) = d.commands
    assert isinstance(cmd, OpenTicket)
    assert cmd.type == "repair" and cmd.fields == {
        "device": "A-1024",
        "symptom": "A-1024 注塑机报警 E31",
    }
    assert cmd.reply_platform == "wecom" and cmd.reply_user_id == "u1"
    assert d.dialog is None


def test_missing_fields_are_asked_one_at_a_time_and_kept_in_the_dialog() -> None:
    first = run(text("注塑机报警，无法启动"))
    assert first.commands == [] and "设备编号" in first.replies[0]
    assert first.dialog["kind"] == "intake" and first.dialog["asking"] == "device"
    assert datetime.fromisoformat(first.dialog["expires_at"]) == NOW + timedelta(minutes=30)

    wrong = run(text("B-9999"), dialog=first.dialog)
    assert wrong.commands == [] and "未找到设备" in wrong.replies[0]
    assert wrong.dialog["asking"] == "device"

    done = run(text("a-2048"), dialog=wrong.dialog)
    (cmd,) = done.commands
    assert isinstance(cmd, OpenTicket) and cmd.fields["device"] == "A-2048"
    assert cmd.description == "注塑机报警，无法启动"
    assert done.dialog is None


def test_photos_in_the_dialog_land_in_the_images_field() -> None:
    start = run(photo("media-1"))
    assert start.commands == [] and start.dialog["photos"] == ["media-1"]
    described = run(text("注塑机漏油"), dialog=start.dialog)
    answered = run(text("A-1024"), dialog=described.dialog)
    (cmd,) = answered.commands
    assert cmd.fields["photos"] == ["media-1"]


def test_cancel_ends_the_dialog() -> None:
    first = run(text("注塑机坏了"))
    d = run(text("取消"), dialog=first.dialog)
    assert d.dialog is None and d.commands == [] and "取消" in d.replies[0]


def test_same_device_asks_whether_it_is_the_same_problem() -> None:
    d = run(text("报修 A-1024 又漏油了"), open_tickets=(OpenFact(id=7, device="A-1024"),))
    assert d.commands == [] and "#7" in d.replies[0] and d.dialog["kind"] == "same_problem"
    yes = run(text("是"), dialog=d.dialog)
    (cmd,) = yes.commands
    assert isinstance(cmd, AddCustomerMessage) and cmd.ticket_id == 7 and "漏油" in cmd.text
    no = run(text("否"), dialog=d.dialog)
    assert isinstance(no.commands[0], OpenTicket)


def test_a_customer_answer_after_a_staff_reply_is_added_to_that_ticket() -> None:
    facts = (OpenFact(id=3, device="A-1", staff_replied_at=NOW - timedelta(minutes=5)),)
    (cmd,) = run(text("下午两点后有人"), open_tickets=facts).commands
    assert isinstance(cmd, AddCustomerMessage) and cmd.ticket_id == 3
    stale = (OpenFact(id=3, device="A-1", staff_replied_at=NOW - timedelta(hours=2)),)
    late = run(text("下午两点后有人"), open_tickets=stale)
    assert late.commands == [] and late.dialog["kind"] == "intake"  # a new report, not an answer


def test_staff_free_text_is_not_a_report() -> None:
    d = run(text("今天好忙"), actor=ENGINEER)
    assert d.commands == [] and "帮助" in d.replies[0]


def test_engineer_photos_are_held_for_the_completion() -> None:
    held = run(photo("p1"), actor=ENGINEER)
    assert held.dialog["kind"] == "photos" and held.dialog["photos"] == ["p1"]
    more = run(photo("p2"), actor=ENGINEER, dialog=held.dialog)
    done = run(text("完工 #4 更换滤芯"), actor=ENGINEER, dialog=more.dialog)
    (cmd,) = done.commands
    assert isinstance(cmd, CompleteTicket) and cmd.photos == ("p1", "p2") and done.dialog is None


def test_decline_without_reason_asks_for_it() -> None:
    ask = run(text("拒单 #5"), actor=ENGINEER)
    assert ask.commands == [] and "原因" in ask.replies[0]
    (cmd,) = run(text("不在附近"), actor=ENGINEER, dialog=ask.dialog).commands
    assert isinstance(cmd, DeclineTicket) and cmd.ticket_id == 5 and cmd.reason == "不在附近"


def test_parts_request_and_a_bad_line() -> None:
    (cmd,) = run(text("申请备件 #12 LX-01*2 MF-03*1"), actor=ENGINEER).commands
    assert isinstance(cmd, RequestParts) and cmd.lines == (("LX-01", 2), ("MF-03", 1))
    bad = run(text("申请备件 #12"), actor=ENGINEER)
    assert bad.commands == [] and "申请备件 #12" in bad.replies[0]


def test_summary_is_for_managers_only() -> None:
    assert run(text("统计 本周"), actor=MANAGER).queries == [Query("summary", period="week")]
    refused = run(text("统计 本周"), actor=ENGINEER)
    assert refused.queries == [] and "经理" in refused.replies[0]


def test_help_depends_on_the_role() -> None:
    customer = run(text("帮助")).replies[0]
    engineer = run(text("帮助"), actor=ENGINEER).replies[0]
    assert "报修" in customer and "申请备件" not in customer
    assert "申请备件" in engineer and "完工" in engineer


def click(
    kind: ActionKind,
    arg: str = "",
    *,
    key: str = "t9_x_1",
    secret: bytes = SECRET,
    to: str = "wecom:u1",
    expires: datetime = NOW + timedelta(days=30),
) -> CardAction:
    action = ActionRef(kind, 9, key, arg).encode(Signer(secret, to, int(expires.timestamp())))
    return CardAction(platform="wecom", dedupe_key="c", user_id="u1", card_key=key, action=action)


def test_card_clicks_become_commands() -> None:
    assert isinstance(run(click(ActionKind.ACCEPT), actor=ENGINEER).commands[0], AcceptTicket)
    approve = run(click(ActionKind.APPROVE, "4"), actor=ENGINEER).commands[0]
    assert isinstance(approve, DecidePartsRequest) and approve.request_id == 4 and approve.approve
    rate = run(click(ActionKind.RATE, "2")).commands[0]
    assert isinstance(rate, RateTicket) and rate.score == 2


@pytest.mark.parametrize("kind", [ActionKind.DECLINE, ActionKind.REJECT, ActionKind.REOPEN])
def test_clicks_that_need_a_reason_ask_for_it(kind: ActionKind) -> None:
    d = run(click(kind, "4"), actor=ENGINEER)
    assert (d.commands == [] and "原因" in d.replies[0]) or "说明" in d.replies[0]
    follow = run(text("原因在此"), actor=ENGINEER, dialog=d.dialog).commands[0]
    assert getattr(follow, "reason", None) == "原因在此"
    if kind is ActionKind.REOPEN:
        assert isinstance(follow, ReopenTicket)


@pytest.mark.parametrize(
    "forged",
    [
        click(ActionKind.ACCEPT, secret=b"other"),  # not signed by us
        click(ActionKind.ACCEPT, to="wecom:zhang2"),  # copied from another person's card
        click(ActionKind.ACCEPT, to="dingtalk:u1"),  # same id, the other platform
        click(ActionKind.ACCEPT, expires=NOW - timedelta(seconds=1)),  # expired
        click(ActionKind.ACCEPT).model_copy(update={"card_key": "t9_other_1"}),  # misplaced
        click(ActionKind.ACCEPT).model_copy(update={"action": "v2.accept.9.t9_x_1..9.ä"}),
        click(ActionKind.ACCEPT).model_copy(update={"action": "v1.accept.9.t9_x_1..abc"}),
    ],
)
def test_forged_copied_or_expired_clicks_do_nothing_and_say_so(forged: CardAction) -> None:
    d = run(forged, actor=ENGINEER)
    assert d.commands == [] and d.dialog is KEEP
    assert d.replies == [texts.CARD_NO_LONGER_VALID]


def test_action_refs_are_bound_to_their_recipient_and_expire() -> None:
    ref = ActionRef(ActionKind.RATE, 12, "t12_rate", "5")
    payload = ref.encode(Signer(SECRET, "dingtalk:0123", 1000))
    assert ActionRef.decode(payload, SECRET, recipient="dingtalk:0123", now=1000) == ref
    for recipient, now in (("dingtalk:0124", 0), ("dingtalk:0123", 1001)):
        with pytest.raises(BadAction):
            ActionRef.decode(payload, SECRET, recipient=recipient, now=now)


def test_a_report_made_in_a_group_is_answered_in_that_group() -> None:
    msg = text("报修 A-1024 漏油").model_copy(
        update={"conversation_type": "group", "conversation_id": "cidGroup1"}
    )
    (cmd,) = run(msg).commands
    assert cmd.reply_conversation_id == "cidGroup1"
    (single,) = run(text("报修 A-1024 漏油")).commands
    assert single.reply_conversation_id == ""


def location(label: str = "上海市黄浦区人民大道") -> ChatMessage:
    loc = Location(latitude=31.2304, longitude=121.4737, label=label, scale=15)
    return ChatMessage(
        platform="wecom", dedupe_key="k", user_id="u1", kind=MessageKind.LOCATION, location=loc
    )


def test_arrive_and_an_engineers_location_check_in() -> None:
    [typed] = run(text("到场 #12"), actor=ENGINEER).commands
    assert isinstance(typed, ArriveOnSite) and typed.ticket_id == 12 and typed.latitude is None
    decision = run(location(), actor=ENGINEER, dialog={"kind": "photos", "photos": ["p1"]})
    [shared] = decision.commands
    assert isinstance(shared, ArriveOnSite) and shared.ticket_id is None
    assert (shared.latitude, shared.longitude, shared.label) == (
        31.2304,
        121.4737,
        "上海市黄浦区人民大道",
    )
    assert decision.dialog is KEEP  # held photos stay held


def test_a_customers_location_is_no_check_in() -> None:
    decision = run(location(), actor=CUSTOMER)
    assert not any(isinstance(c, ArriveOnSite) for c in decision.commands)
