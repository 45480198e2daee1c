"""WecomAdapter (ChatPlatform side) against the fake WeCom server."""

from __future__ import annotations

import aiohttp
import pytest

from bot.ports import Permanent, Receipt, Retryable, Target
from bot.wecom.adapter import RESPONSE_CODE_TTL_S, WecomAdapter, split_utf8
from bot.wecom.parse import parse_message
from cards.model import Button, ButtonStyle, Card, Field
from core.cache import MemoryCache
from tests.fakes.wecom_api import FakeWecom, start_fake_wecom
from tests.fakes.wecom_support import make_settings

LISI = Target(platform="wecom", user_id="lisi")
CARD = Card(
    key="t42_assign_v1",
    title="工单 #42 打印机故障",
    summary="三楼打印机卡纸",
    fields=(Field(label="提交人", value="张三"),),
    buttons=(
        Button(text="接单", action="v1.accept.42.sig", style=ButtonStyle.PRIMARY),
        Button(text="拒单", action="v1.decline.42.sig", style=ButtonStyle.DANGER),
    ),
    url="https://desk.example.com/t/42",
)
DONE = CARD.model_copy(update={"buttons": (), "status": "李四 已接单 11-29 10:02"})


class Clock:
    def __init__(self) -> None:
        self.now = 1700000000.0

    def __call__(self) -> float:
        return self.now


def make(fake: FakeWecom, session: aiohttp.ClientSession, **kw: object) -> WecomAdapter:
    return WecomAdapter(make_settings(fake.base_url), MemoryCache(), session, **kw)  # type: ignore[arg-type]


async def test_send_card(fake: FakeWecom, session: aiohttp.ClientSession) -> None:
    receipt = await make(fake, session).send_card(LISI, CARD)
    (sent,) = fake.sent
    assert sent["msgtype"] == "template_card"
    assert sent["template_card"]["task_id"] == "t42_assign_v1"
    assert [b["key"] for b in sent["template_card"]["button_list"]] == [
        "v1.accept.42.sig",
        "v1.decline.42.sig",
    ]
    assert receipt.card_key == "t42_assign_v1"
    assert receipt.message_id.startswith("msgid-")
    assert receipt.extra["msgid"] == receipt.message_id
    assert receipt.response_code.startswith("rc-")


async def test_update_with_response_code(fake: FakeWecom, session: aiohttp.ClientSession) -> None:
    adapter = make(fake, session)
    receipt = await adapter.send_card(LISI, CARD)
    updated = await adapter.update_card(receipt, DONE)
    (upd,) = fake.updates
    assert upd["response_code"] == receipt.response_code
    assert upd["userids"] == ["lisi"]
    assert upd["button"] == {"replace_name": "李四 已接单 11-29 10:02"}
    assert updated.response_code == ""  # single use
    assert updated.message_id == receipt.message_id
    assert len(fake.sent) == 1


async def test_update_with_click_code_replaces_card(
    fake: FakeWecom, session: aiohttp.ClientSession
) -> None:
    adapter = make(fake, session)
    receipt = await adapter.send_card(LISI, CARD)
    click_code = fake.issue_response_code("t42_assign_v1")
    new = CARD.model_copy(update={"summary": "已改派"})
    await adapter.update_card(receipt.model_copy(update={"response_code": click_code}), new)
    (upd,) = fake.updates
    assert upd["template_card"]["main_title"]["desc"] == "已改派"
    assert upd["template_card"]["task_id"] == "t42_assign_v1"


async def test_spent_response_code_sends_fresh_card(
    fake: FakeWecom, session: aiohttp.ClientSession
) -> None:
    adapter = make(fake, session)
    receipt = await adapter.send_card(LISI, CARD)
    fake.response_code_spent(receipt.response_code)
    fresh = await adapter.update_card(receipt, DONE)
    assert fake.updates == []
    assert len(fake.sent) == 2
    card = fake.sent[1]["template_card"]
    assert card["card_type"] == "text_notice"
    assert card["task_id"] != "t42_assign_v1"
    assert card["task_id"].startswith("t42_assign_v1@r")
    assert fresh.card_key == "t42_assign_v1"
    assert fresh.message_id != receipt.message_id
    assert fresh.extra["replaces"] == receipt.message_id


async def test_code_used_once_by_us_is_not_reused(
    fake: FakeWecom, session: aiohttp.ClientSession
) -> None:
    adapter = make(fake, session)
    receipt = await adapter.send_card(LISI, CARD)
    await adapter.update_card(receipt, DONE)
    await adapter.update_card(receipt, DONE)  # stale receipt: same code again
    assert len(fake.updates) == 1
    assert len(fake.calls_to("message/update_template_card")) == 1  # no wasted API call
    assert len(fake.sent) == 2


async def test_empty_or_expired_code_sends_fresh_card(
    fake: FakeWecom, session: aiohttp.ClientSession
) -> None:
    clock = Clock()
    adapter = make(fake, session, clock=clock)
    receipt = await adapter.send_card(LISI, CARD)
    await adapter.update_card(receipt.model_copy(update={"response_code": ""}), DONE)
    clock.now += RESPONSE_CODE_TTL_S + 1
    await adapter.update_card(receipt, DONE)
    assert fake.calls_to("message/update_template_card") == []
    assert len(fake.sent) == 3


async def test_fresh_card_click_maps_back_to_card_key(
    fake: FakeWecom, session: aiohttp.ClientSession
) -> None:
    adapter = make(fake, session)
    fresh = await adapter.update_card(Receipt(platform="wecom", target=LISI), CARD)
    task_id = fake.sent[0]["template_card"]["task_id"]
    xml = (
        "<xml><ToUserName>ww0123456789abcdef</ToUserName><FromUserName>lisi</FromUserName>"
        "<CreateTime>1700000100</CreateTime><MsgType>event</MsgType>"
        "<Event>template_card_event</Event><EventKey>v1.accept.42.sig</EventKey>"
        f"<TaskId>{task_id}</TaskId><ResponseCode>rc-x</ResponseCode></xml>"
    ).encode()
    action = parse_message(xml)
    assert action.card_key == fresh.card_key == "t42_assign_v1"  # type: ignore[union-attr]


async def test_retryable_update_keeps_code_usable(
    fake: FakeWecom, session: aiohttp.ClientSession
) -> None:
    adapter = make(fake, session)
    receipt = await adapter.send_card(LISI, CARD)
    fake.http_500(times=1, path="message/update_template_card")
    with pytest.raises(Retryable):
        await adapter.update_card(receipt, DONE)
    await adapter.update_card(receipt, DONE)
    assert len(fake.updates) == 1
    assert len(fake.sent) == 1


async def test_finished_card_without_url_goes_out_as_text(
    fake: FakeWecom, session: aiohttp.ClientSession
) -> None:
    adapter = make(fake, session)
    receipt = await adapter.send_card(LISI, DONE.model_copy(update={"url": ""}))
    (sent,) = fake.sent
    assert sent["msgtype"] == "text"
    assert "李四 已接单" in sent["text"]["content"]
    assert receipt.card_key == "t42_assign_v1"


async def test_card_url_setting_is_used_for_text_notice(
    fake: FakeWecom, session: aiohttp.ClientSession
) -> None:
    adapter = make(fake, session, card_url="https://desk.example.com/")
    await adapter.send_card(LISI, DONE.model_copy(update={"url": ""}))
    assert fake.sent[0]["template_card"]["card_action"]["url"] == "https://desk.example.com/"


async def test_unrenderable_card_is_permanent_without_api_call(
    fake: FakeWecom, session: aiohttp.ClientSession
) -> None:
    bad = CARD.model_copy(
        update={"buttons": tuple(Button(text=str(i), action=f"k{i}") for i in range(7))}
    )
    with pytest.raises(Permanent):
        await make(fake, session).send_card(LISI, bad)
    assert fake.calls == []


async def test_send_text_and_long_text_split(
    fake: FakeWecom, session: aiohttp.ClientSession
) -> None:
    adapter = make(fake, session)
    r1 = await adapter.send_text(LISI, "工单 #42 已受理")
    assert r1.message_id and fake.sent[0]["text"]["content"] == "工单 #42 已受理"
    long = "长" * 1000  # 3000 bytes -> 2 messages
    r2 = await adapter.send_text(LISI, long)
    parts = [s["text"]["content"] for s in fake.sent[1:]]
    assert "".join(parts) == long
    assert all(len(p.encode()) <= 2048 for p in parts)
    assert r2.extra["msgids"][-1] == r2.message_id


async def test_bad_user_and_group_target_are_permanent(
    session: aiohttp.ClientSession,
) -> None:
    async with start_fake_wecom(known_users={"lisi"}) as fake:
        adapter = make(fake, session)
        with pytest.raises(Permanent):
            await adapter.send_card(Target(platform="wecom", user_id="ghost"), CARD)
        with pytest.raises(Permanent):
            await adapter.send_text(Target(platform="wecom", conversation_id="chat1"), "x")


def test_split_utf8() -> None:
    assert split_utf8("") == []
    assert split_utf8("ab", 1) == ["a", "b"]
    assert split_utf8("长长", 5) == ["长", "长"]
    assert split_utf8("长长长", 9) == ["长长长"]  # exactly the limit: one chunk
    assert split_utf8("a长" * 700, 2048) == ["a长" * 512, "a长" * 188]
