"""Whatever a correctly signed request carries, decoding ends in a result or InboundRejected."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from bot.dingtalk import crypto, parse
from bot.dingtalk.adapter import DingtalkAdapter
from bot.dingtalk.settings import DingtalkSettings
from bot.ports import InboundRejected, RawRequest
from core.cache import MemoryCache
from tests.fakes.dingtalk_data import fixture, load_vectors

V = load_vectors()
SETTINGS = DingtalkSettings(
    app_key=V["b_callback_crypto"]["keys"]["owner_key"],
    app_secret=V["a_robot_callback"]["app_secret"],
    event_token=V["b_callback_crypto"]["keys"]["token"],
    event_aes_key=V["b_callback_crypto"]["keys"]["aes_key"],
    card_callback_secret=V["d_card_callback"]["api_secret"],
)
NOW = 1700000000.0

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
keys = st.sampled_from(
    [
        "msgtype",
        "text",
        "content",
        "msgId",
        "senderStaffId",
        "senderId",
        "conversationType",
        "isInAtList",
        "atUsers",
        "createAt",
        "chatbotUserId",
        "outTrackId",
        "userId",
        "EventType",
        "UserId",
        "TimeStamp",
        "EventId",
        "cardPrivateData",
        "actionIds",
        "params",
        "richText",
    ]
)
mutations = st.dictionaries(keys, values, max_size=6)


def _adapter(session: aiohttp.ClientSession) -> DingtalkAdapter:
    return DingtalkAdapter(SETTINGS, MemoryCache(), session, clock=lambda: NOW)


def _robot_raw(body: bytes) -> RawRequest:
    ts = str(int(NOW * 1000))
    sign = crypto.robot_sign(ts, SETTINGS.app_secret.get_secret_value())
    return RawRequest(method="POST", headers={"timestamp": ts, "sign": sign}, body=body)


def _card_raw(body: bytes) -> RawRequest:
    ts = str(int(NOW * 1000))
    sig = crypto.card_signature(ts, SETTINGS.card_callback_secret.get_secret_value())
    h = {"x-ddpaas-signature-timestamp": ts, "x-ddpaas-signature": sig}
    return RawRequest(method="POST", headers=h, body=body)


def _event_raw(plaintext: bytes) -> RawRequest:
    k = V["b_callback_crypto"]["keys"]
    ec = crypto.EventCrypto(k["token"], k["aes_key"], k["owner_key"])
    enc = ec.encrypt(plaintext)
    ts, nonce = str(int(NOW * 1000)), "n"
    q = {"msg_signature": ec.signature(ts, nonce, enc), "timestamp": ts, "nonce": nonce}
    return RawRequest(method="POST", query=q, body=json.dumps({"encrypt": enc}).encode())


def _ok_or_rejected(fn: Any, raw: RawRequest) -> None:
    try:
        fn(raw)
    except InboundRejected as exc:
        assert 400 <= exc.status < 500


@pytest.fixture(scope="module")
def session() -> Any:
    return object()  # never used for I/O by the decoders


FUZZ = hsettings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(
    base=st.sampled_from(["robot_text_group_at", "robot_richtext", "robot_audio", "robot_file"]),
    mut=mutations,
)
def test_robot_fuzz(session: Any, base: str, mut: dict[str, Any]) -> None:
    body = {**fixture(base), **mut}
    _ok_or_rejected(_adapter(session).decode_robot, _robot_raw(json.dumps(body).encode()))


@FUZZ
@given(mut=mutations, content=values)
def test_card_fuzz(session: Any, mut: dict[str, Any], content: Any) -> None:
    body = {**fixture("card_callback"), **mut}
    if isinstance(content, dict):
        body["content"] = json.dumps({"cardPrivateData": content})
    _ok_or_rejected(_adapter(session).decode_card, _card_raw(json.dumps(body).encode()))


@FUZZ
@given(body=values)
def test_event_fuzz(session: Any, body: Any) -> None:
    _ok_or_rejected(_adapter(session).decode_event, _event_raw(json.dumps(body).encode()))


@FUZZ
@given(raw=st.binary(max_size=200))
def test_raw_bytes_fuzz(session: Any, raw: bytes) -> None:
    ad = _adapter(session)
    _ok_or_rejected(ad.decode_robot, _robot_raw(raw))
    _ok_or_rejected(ad.decode_card, _card_raw(raw))
    _ok_or_rejected(ad.decode_event, _event_raw(raw))


@pytest.mark.parametrize("depth", [10_000, 100_000])
def test_deep_nesting(session: Any, depth: int) -> None:
    raw = b"[" * depth + b"]" * depth
    big = SETTINGS.model_copy(update={"max_body_bytes": 10 * depth})
    ad = DingtalkAdapter(big, MemoryCache(), session, clock=lambda: NOW)
    _ok_or_rejected(ad.decode_robot, _robot_raw(raw))
    nested = json.dumps({**fixture("card_callback"), "content": "[" * depth + "]" * depth})
    _ok_or_rejected(ad.decode_card, _card_raw(nested.encode()))
    with pytest.raises(parse.ParseError):
        parse.parse_event(raw)
