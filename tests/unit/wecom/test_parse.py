"""Decrypted WeCom XML (recorded fixtures) → neutral inbound types."""

from __future__ import annotations

import hashlib

import pytest

from bot.inbound import CardAction, ChatMessage, MessageKind
from bot.tencent_crypto import XmlError
from bot.wecom.parse import parse_message
from tests.fakes.wecom_support import FIXTURES


def load(name: str) -> bytes:
    return (FIXTURES / f"inbound_{name}.xml").read_bytes()


def msg(name: str) -> ChatMessage:
    out = parse_message(load(name))
    assert isinstance(out, ChatMessage)
    return out


def test_text() -> None:
    m = msg("text")
    assert (m.kind, m.platform, m.user_id) == (MessageKind.TEXT, "wecom", "zhangsan")
    assert m.text == "打印机坏了 printer broken"
    assert m.dedupe_key == "wecom:msg:7300000000000000001"
    assert m.sent_at == 1700000000
    assert m.extra["agent_id"] == "1000002"


def test_image_keeps_media_id_and_pic_url() -> None:
    m = msg("image")
    assert m.kind == MessageKind.IMAGE
    (media,) = m.media
    assert (media.kind, media.media_id) == ("image", "1pQ-media-image-001")
    assert media.url == "https://wework.qpic.cn/wwpic/printer.jpg"
    assert m.dedupe_key == "wecom:msg:7300000000000000002"


def test_voice_with_recognition() -> None:
    m = msg("voice")
    assert m.kind == MessageKind.VOICE
    assert m.text == "注塑机漏油了"
    assert m.media[0].media_id == "1pQ-media-voice-001"
    assert m.extra["format"] == "amr"


def test_voice_without_recognition_keeps_media() -> None:
    m = msg("voice_no_recognition")
    assert m.kind == MessageKind.VOICE
    assert m.text == ""
    assert m.media[0].kind == "voice"


def test_location() -> None:
    m = msg("location")
    assert m.kind == MessageKind.LOCATION
    assert m.location is not None
    assert (m.location.latitude, m.location.longitude) == (31.2304, 121.4737)
    assert m.location.scale == 15
    assert m.location.label == "上海市黄浦区人民大道"


def test_file() -> None:
    m = msg("file")
    assert m.kind == MessageKind.FILE
    assert (m.media[0].kind, m.media[0].media_id, m.media[0].name) == (
        "file",
        "1pQ-media-file-001",
        "故障日志.txt",
    )


@pytest.mark.parametrize(
    ("name", "event", "user"),
    [("enter_agent", "enter_agent", "zhangsan"), ("subscribe", "subscribe", "lisi")],
)
def test_events(name: str, event: str, user: str) -> None:
    raw = load(name)
    m = msg(name)
    assert (m.kind, m.event, m.user_id) == (MessageKind.EVENT, event, user)
    assert m.dedupe_key == "wecom:event:" + hashlib.sha256(raw).hexdigest()


def test_unknown_type_is_not_an_error() -> None:
    m = msg("link")
    assert m.kind == MessageKind.UNKNOWN
    assert m.extra["msg_type"] == "link"
    assert m.extra["fields"]["Url"] == "https://example.com/manual"
    assert m.dedupe_key == "wecom:msg:7300000000000000007"


def test_kf_event_without_from_user() -> None:
    m = msg("kf_msg_or_event")
    assert m.kind == MessageKind.EVENT
    assert m.event == "kf_msg_or_event"
    assert m.user_id == ""
    assert m.extra["OpenKfId"] == "wkxxxxxxx"
    assert m.dedupe_key.startswith("wecom:event:")


def test_template_card_event() -> None:
    a = parse_message(load("template_card_event"))
    assert isinstance(a, CardAction)
    assert a.user_id == "lisi"
    assert a.action == "ticket_42_accept"
    assert a.card_key == "ticket_42_v1"
    assert a.response_code == "rc_example_only"
    assert a.card_type == "button_interaction"
    assert a.selected == {"priority": ["high"]}  # a one-element list stays a list
    assert a.sent_at == 1700000100
    assert a.dedupe_key.startswith("wecom:card:")


def test_template_card_event_multi_selection_and_resend_suffix() -> None:
    a = parse_message(load("template_card_event_multi"))
    assert isinstance(a, CardAction)
    assert a.selected == {"parts": ["LX-01", "MF-03"], "urgency": ["high"]}
    assert a.card_key == "t42_parts"  # "@r<hex>" of a re-sent card is stripped
    assert a.extra["task_id"] == "t42_parts@r18bcfe5680"


def _click(user: str, key: str, task: str, code: str, t: int = 1700000100) -> bytes:
    return (
        f"<xml><ToUserName>ww0123456789abcdef</ToUserName><FromUserName>{user}</FromUserName>"
        f"<CreateTime>{t}</CreateTime><MsgType>event</MsgType>"
        f"<Event>template_card_event</Event><EventKey>{key}</EventKey><TaskId>{task}</TaskId>"
        f"<CardType>button_interaction</CardType><ResponseCode>{code}</ResponseCode></xml>"
    ).encode()


def test_card_dedupe_key_is_stable_and_distinguishes_clicks() -> None:
    base = parse_message(_click("lisi", "k1", "t1", "rc1"))
    same_retry = parse_message(_click("lisi", "k1", "t1", "rc1"))
    assert base.dedupe_key == same_retry.dedupe_key
    others = [
        _click("lisi", "k1", "t1", "rc2"),
        _click("lisi", "k2", "t1", "rc1"),
        _click("lisi", "k1", "t2", "rc1"),
        _click("wangwu", "k1", "t1", "rc1"),
        _click("lisi", "k1t", "1", "rc1"),  # no ambiguity from plain concatenation
    ]
    keys = {parse_message(x).dedupe_key for x in others}
    assert base.dedupe_key not in keys
    assert len(keys) == len(others)


def test_message_and_event_keys_cannot_collide() -> None:
    keys = {
        parse_message(load(n)).dedupe_key.split(":")[1]
        for n in ("text", "enter_agent", "template_card_event")
    }
    assert keys == {"msg", "event", "card"}


@pytest.mark.parametrize(
    "xml",
    [
        b"<xml><MsgType>text",
        b'<!DOCTYPE x [<!ENTITY e "boom">]><xml><MsgType>&e;</MsgType></xml>',
        b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Content>&e;</Content></xml>',
    ],
    ids=["truncated", "entity", "xxe"],
)
def test_bad_or_hostile_xml_is_refused(xml: bytes) -> None:
    with pytest.raises(XmlError):
        parse_message(xml)
