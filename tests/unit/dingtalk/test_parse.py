"""Recorded payloads -> neutral inbound types."""

from __future__ import annotations

import hashlib
import json

import pytest

from bot.dingtalk import parse
from bot.inbound import CardAction, ChatMessage, Media, MessageKind, UrlChallenge
from tests.fakes.dingtalk_data import fixture


def one(name: str) -> ChatMessage:
    [msg] = parse.parse_robot_message(fixture(name))
    return msg


def test_text_single() -> None:
    msg = one("robot_text_single")
    assert msg.kind is MessageKind.TEXT
    assert msg.text == "报修 注塑机漏油"
    assert msg.conversation_type == "single"
    assert msg.user_id == "manager1234"
    assert msg.user_name == "张三"
    assert msg.dedupe_key == "dingtalk:msg:msgLICYeAbCdHgY4JtMQw=="
    assert msg.sent_at == 1690362101
    assert msg.extra["sessionWebhook"].startswith("https://oapi.dingtalk.com/robot/sendBySession")
    assert msg.extra["senderUnionId"] == "unionZhang"


def test_group_mentioned_is_decoded_and_stripped() -> None:
    msg = one("robot_text_group_at")
    assert msg.conversation_type == "group"
    assert msg.conversation_id == "cidAsXSBLnA=="
    assert msg.text == "我的工单"


def test_group_not_mentioned_is_dropped() -> None:
    assert parse.parse_robot_message(fixture("robot_text_group_not_at")) == []


def test_group_mention_via_at_users() -> None:
    assert one("robot_text_group_atusers_only").text == "帮助"


def test_group_without_any_mention_flag_is_dropped() -> None:
    body = fixture("robot_text_group_at")
    del body["isInAtList"], body["atUsers"]
    assert parse.parse_robot_message(body) == []


def test_rich_text() -> None:
    msg = one("robot_richtext")
    assert msg.kind is MessageKind.TEXT
    assert msg.text == "机器漏油，见图"
    assert msg.media == (Media(kind="image", media_id="dlPic01"),)


def test_rich_text_pictures_only() -> None:
    body = fixture("robot_richtext")
    body["content"]["richText"] = [{"type": "picture", "downloadCode": "dlX"}]
    [msg] = parse.parse_robot_message(body)
    assert msg.kind is MessageKind.IMAGE and msg.media[0].media_id == "dlX"


def test_picture() -> None:
    msg = one("robot_picture")
    assert msg.kind is MessageKind.IMAGE
    assert msg.media == (Media(kind="image", media_id="dlPic02"),)


def test_audio_uses_recognition() -> None:
    msg = one("robot_audio")
    assert msg.kind is MessageKind.VOICE
    assert msg.text == "我的工单"
    assert msg.media[0] == Media(kind="voice", media_id="dlAudio01")
    assert msg.extra["duration"] == 4000


def test_file() -> None:
    msg = one("robot_file")
    assert msg.kind is MessageKind.FILE
    assert msg.media == (Media(kind="file", media_id="dlFile01", name="故障日志.zip"),)


def test_video_is_a_file() -> None:
    msg = one("robot_video")
    assert msg.kind is MessageKind.FILE and msg.extra["msgtype"] == "video"


def test_quota_exhausted_is_empty() -> None:
    msg = one("robot_quota_empty")
    assert msg.kind is MessageKind.EMPTY
    assert msg.text == ""
    assert "暂停" in msg.extra["error"]


def test_unknown_kind() -> None:
    msg = one("robot_unknown")
    assert msg.kind is MessageKind.UNKNOWN


def test_external_sender_falls_back_to_sender_id() -> None:
    assert one("robot_external_sender").user_id == "$:LWCP_v1:$Ff09GIxxxxx"


def test_create_at_as_string() -> None:
    body = fixture("robot_text_single")
    body["createAt"] = "1690362101894"
    assert parse.parse_robot_message(body)[0].sent_at == 1690362101


@pytest.mark.parametrize("missing", ["msgId", "senderStaffId+senderId"])
def test_robot_required_fields(missing: str) -> None:
    body = fixture("robot_text_single")
    for key in missing.split("+"):
        body.pop(key)
    with pytest.raises(parse.ParseError):
        parse.parse_robot_message(body)


def test_event_check_url() -> None:
    assert parse.parse_event(b'{"EventType":"check_url"}') == UrlChallenge(
        platform="dingtalk", echo="success"
    )


def test_event_hash_dedupe() -> None:
    raw = json.dumps(fixture("event_user_add_org")).encode()
    msg = parse.parse_event(raw)
    assert isinstance(msg, ChatMessage)
    assert msg.kind is MessageKind.EVENT and msg.event == "user_add_org"
    assert msg.dedupe_key == "dingtalk:evt:" + hashlib.sha256(raw).hexdigest()
    assert msg.user_id == "u1"
    assert msg.extra["event"]["CorpId"].startswith("ding")


def test_event_id_dedupe() -> None:
    msg = parse.parse_event(json.dumps(fixture("event_bpms")).encode())
    assert isinstance(msg, ChatMessage)
    assert msg.dedupe_key == "dingtalk:evt:evt-123"
    assert msg.user_id == "manager1234" and msg.event == "bpms_instance_change"


@pytest.mark.parametrize("raw", [b"not json", b"[]", b'{"foo":1}', b'{"EventType":3}'])
def test_event_malformed(raw: bytes) -> None:
    with pytest.raises(parse.ParseError):
        parse.parse_event(raw)


def test_card_callback_params_action() -> None:
    action = parse.parse_card_callback(fixture("card_callback"))
    assert isinstance(action, CardAction)
    assert action.card_key == "t42_assign"
    assert action.user_id == "manager1234"
    assert action.action == "v1.accept.42.sig"
    assert action.params == {"action": "v1.accept.42.sig"}
    assert action.extra["actionIds"] == ["accept_btn"]
    digest = hashlib.sha256(b"t42_assign\x1fmanager1234\x1fv1.accept.42.sig").hexdigest()
    assert action.dedupe_key == f"dingtalk:card:{digest}"


def test_card_callback_standard_card_action_id() -> None:
    action = parse.parse_card_callback(fixture("card_callback_standard"))
    assert action.action == "v1.approve.42.sig" and action.card_key == "t42_parts"


def test_card_dedupe_differs_per_user_and_action() -> None:
    a = parse.parse_card_callback(fixture("card_callback"))
    other_user = {**fixture("card_callback"), "userId": "someone"}
    assert parse.parse_card_callback(other_user).dedupe_key != a.dedupe_key
    assert parse.parse_card_callback(fixture("card_callback")).dedupe_key == a.dedupe_key


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b.pop("outTrackId"),
        lambda b: b.pop("userId"),
        lambda b: b.update(content="{not json"),
        lambda b: b.update(content="[1]"),
        lambda b: b.update(
            content=json.dumps({"cardPrivateData": {"actionIds": [], "params": {}}})
        ),
    ],
)
def test_card_callback_malformed(mutate) -> None:  # type: ignore[no-untyped-def]
    body = fixture("card_callback")
    mutate(body)
    with pytest.raises(parse.ParseError):
        parse.parse_card_callback(body)
