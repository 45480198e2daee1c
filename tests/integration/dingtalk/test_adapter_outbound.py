"""DingtalkAdapter (ChatPlatform) against the fake DingTalk server."""

from __future__ import annotations

import json

import pytest

from bot.dingtalk.adapter import DingtalkAdapter
from bot.ports import Permanent, Retryable, Target
from cards.model import Button, ButtonStyle, Card, Field
from core.cache import MemoryCache
from tests.fakes.dingtalk_api import FakeDingtalk

CARD = Card(
    key="t42_assign",
    title="新工单 #42 待接单",
    summary="注塑机漏油",
    fields=(Field(label="优先级", value="高"),),
    buttons=(
        Button(text="接单", action="v1.accept.42.sig", style=ButtonStyle.PRIMARY),
        Button(text="拒单", action="v1.decline.42.sig", style=ButtonStyle.DANGER),
    ),
)
DONE = CARD.model_copy(update={"buttons": (), "status": "张伟 已接单"})
ONE = Target(platform="dingtalk", user_id="zhangwei")
GROUP = Target(platform="dingtalk", conversation_id="cidGroup01==", user_id="stock01")


def adapter(settings, session, **kw) -> DingtalkAdapter:
    return DingtalkAdapter(settings, MemoryCache(), session, **kw)


def _buttons(card_json: dict) -> list[str]:
    return [
        a["label"]["text"]
        for c in card_json["contents"]
        if c["type"] == "action"
        for a in c["actions"]
        if a["actionType"] == "request"
    ]


async def test_send_text_single_and_group(fake: FakeDingtalk, settings, session) -> None:
    ad = adapter(settings, session)
    r1 = await ad.send_text(ONE, "你好")
    r2 = await ad.send_text(Target(platform="dingtalk", conversation_id="cidGroup01=="), "大家好")
    assert r1.message_id and r2.message_id and r1.platform == "dingtalk"
    assert fake.messages[0]["userIds"] == ["zhangwei"]
    assert json.loads(fake.messages[0]["msgParam"]) == {"content": "你好"}
    assert fake.messages[1]["openConversationId"] == "cidGroup01=="


async def test_send_text_without_target_is_permanent(fake, settings, session) -> None:
    with pytest.raises(Permanent):
        await adapter(settings, session).send_text(Target(platform="dingtalk"), "x")


async def test_standard_card_create_then_update(fake: FakeDingtalk, settings, session) -> None:
    ad = adapter(
        settings, session, card_callback_url="https://desk.example.com/webhooks/dingtalk/card"
    )
    receipt = await ad.send_card(ONE, CARD)
    assert receipt.card_key == "t42_assign" and receipt.extra["mode"] == "standard"
    stored = fake.robot_cards["t42_assign"]
    assert _buttons(stored["data"]) == ["接单", "拒单"]
    assert stored["request"]["callbackUrl"].endswith("/webhooks/dingtalk/card")
    updated = await ad.update_card(receipt, DONE)
    assert updated.card_key == "t42_assign"
    assert stored["updates"] == 1
    assert _buttons(stored["data"]) == []
    assert "张伟 已接单" in json.dumps(stored["data"], ensure_ascii=False)


async def test_standard_group_card_buttons_are_private(fake, settings, session) -> None:
    await adapter(settings, session).send_card(GROUP, CARD)
    stored = fake.robot_cards["t42_assign"]
    assert _buttons(stored["data"]) == []
    assert _buttons(stored["private"]["stock01"]) == ["接单", "拒单"]


async def test_template_card_create_then_update(fake: FakeDingtalk, settings, session) -> None:
    tpl = settings.model_copy(update={"card_template_id": "tpl-123.schema"})
    ad = adapter(tpl, session)
    receipt = await ad.send_card(GROUP, CARD)
    assert receipt.extra["mode"] == "template"
    card = fake.cards["t42_assign"]
    assert card["public"]["hasButtons"] == "false"
    assert json.loads(card["private"]["stock01"]["buttons"])[0]["action"] == "v1.accept.42.sig"
    await ad.update_card(receipt, DONE)
    assert card["updates"] == 1
    assert card["public"]["status"] == "张伟 已接单"
    assert card["private"]["stock01"]["hasButtons"] == "false"


async def test_template_card_single_chat(fake, settings, session) -> None:
    tpl = settings.model_copy(update={"card_template_id": "tpl-123.schema"})
    await adapter(tpl, session).send_card(ONE, CARD)
    body = fake.cards["t42_assign"]["request"]
    assert body["openSpaceId"] == "dtv1.card//IM_ROBOT.zhangwei"
    assert fake.cards["t42_assign"]["public"]["hasButtons"] == "true"


async def test_template_card_retry_after_landing_is_success(fake, settings, session) -> None:
    tpl = settings.model_copy(update={"card_template_id": "tpl-123.schema"})
    ad = adapter(tpl, session)
    await ad.send_card(ONE, CARD)
    again = await ad.send_card(ONE, CARD)  # the relay retried: the card already exists
    assert again.card_key == "t42_assign" and len(fake.cards) == 1


async def test_update_unknown_card_is_permanent(fake, settings, session) -> None:
    tpl = settings.model_copy(update={"card_template_id": "tpl-123.schema"})
    ad = adapter(tpl, session)
    receipt = await ad.send_card(ONE, CARD)
    with pytest.raises(Permanent):
        await ad.update_card(receipt.model_copy(update={"card_key": "t99_nothing"}), DONE)


async def test_card_to_unknown_user_is_permanent(fake, settings, session) -> None:
    with pytest.raises(Permanent):
        await adapter(settings, session).send_card(
            Target(platform="dingtalk", user_id="ghost"), CARD
        )


async def test_card_send_rate_limited_is_retryable(fake, settings, session) -> None:
    fake.fail_with("Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", status=403)
    with pytest.raises(Retryable):
        await adapter(settings, session).send_card(ONE, CARD)
    assert "t42_assign" not in fake.robot_cards


async def test_download_through_adapter_client(fake, settings, session) -> None:
    fake.files["dlPic01"] = b"\x89PNG..."
    assert await adapter(settings, session).client.download_file("dlPic01") == b"\x89PNG..."
