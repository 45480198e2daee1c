"""The three inbound endpoints of DingtalkAdapter: verify, decode, refuse, acknowledge."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from pydantic import ValidationError

from bot.dingtalk import crypto
from bot.dingtalk.adapter import DingtalkAdapter
from bot.dingtalk.settings import DingtalkSettings
from bot.inbound import CardAction, ChatMessage, MessageKind, UrlChallenge
from bot.ports import InboundRejected, RawRequest
from cards.model import Card
from core.cache import MemoryCache
from tests.fakes.dingtalk_data import fixture

T_ROBOT = 1577262236.757  # the robot vector's timestamp, as "now"
T_EVENT = 1700000000.0


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def make(
    settings: DingtalkSettings, session: aiohttp.ClientSession, now: float, **kw: Any
) -> DingtalkAdapter:
    return DingtalkAdapter(settings, MemoryCache(), session, clock=lambda: now, **kw)


def robot_raw(vectors: dict[str, Any], body: bytes, **headers: str) -> RawRequest:
    a = vectors["a_robot_callback"]
    h = {"timestamp": a["timestamp"], "sign": a["sign"], "content-type": "application/json"}
    h.update(headers)
    return RawRequest(method="POST", headers=h, body=body)


def _b(name: str) -> bytes:
    return json.dumps(fixture(name), ensure_ascii=False).encode()


# --- robot --------------------------------------------------------------------------------------


async def test_robot_ok(settings, session, vectors) -> None:
    ad = make(settings, session, T_ROBOT + 10)
    [msg] = ad.decode_robot(robot_raw(vectors, _b("robot_text_single")))
    assert msg.kind is MessageKind.TEXT and msg.user_id == "manager1234"
    assert json.loads(ad.robot_ack_body()) == {"msgtype": "empty"}
    body, ctype = ad.robot_decoder.ack_body(robot_raw(vectors, b"{}"))
    assert body == b'{"msgtype":"empty"}' and ctype.startswith("application/json")
    assert ad.robot_decoder.decode(robot_raw(vectors, _b("robot_text_single")))[0] == msg


async def test_robot_group_not_mentioned_is_empty(settings, session, vectors) -> None:
    ad = make(settings, session, T_ROBOT)
    assert ad.decode_robot(robot_raw(vectors, _b("robot_text_group_not_at"))) == []


@pytest.mark.parametrize(
    ("headers", "now", "status"),
    [
        ({"sign": ""}, T_ROBOT, 401),
        ({"timestamp": ""}, T_ROBOT, 401),
        ({"sign": "UO04jW/wmuSMHgEp9GzhRLXUiTJTKDYPlMmvWfldbZ1="}, T_ROBOT, 401),
        ({}, T_ROBOT + 3601, 401),
        ({}, T_ROBOT - 3601, 401),
        ({"timestamp": "abc"}, T_ROBOT, 401),
    ],
)
async def test_robot_sign_rejected(settings, session, vectors, headers, now, status) -> None:
    ad = make(settings, session, now)
    with pytest.raises(InboundRejected) as exc:
        ad.decode_robot(robot_raw(vectors, _b("robot_text_single"), **headers))
    assert exc.value.status == status
    assert settings.app_secret.get_secret_value() not in exc.value.reason


async def test_robot_tighter_tolerance(vectors, session, settings) -> None:
    tight = settings.model_copy(update={"robot_timestamp_tolerance_s": 300})
    ad = make(tight, session, T_ROBOT + 301)
    with pytest.raises(InboundRejected):
        ad.decode_robot(robot_raw(vectors, _b("robot_text_single")))


@pytest.mark.parametrize("body", [b"not json", b"[1,2]", b'{"msgtype":"text"}', b"\xff\xfe"])
async def test_robot_malformed(settings, session, vectors, body) -> None:
    with pytest.raises(InboundRejected) as exc:
        make(settings, session, T_ROBOT).decode_robot(robot_raw(vectors, body))
    assert exc.value.status == 400


async def test_robot_oversized(settings, session, vectors) -> None:
    big = b'{"x":"' + b"a" * settings.max_body_bytes + b'"}'
    with pytest.raises(InboundRejected) as exc:
        make(settings, session, T_ROBOT).decode_robot(robot_raw(vectors, big))
    assert exc.value.status == 413


async def test_robot_get_refused(settings, session, vectors) -> None:
    raw = robot_raw(vectors, b"").model_copy(update={"method": "GET"})
    with pytest.raises(InboundRejected) as exc:
        make(settings, session, T_ROBOT).decode_robot(raw)
    assert exc.value.status == 405


# --- events -------------------------------------------------------------------------------------


def event_raw(vectors: dict[str, Any], index: int = 0, **query: str) -> RawRequest:
    case = vectors["b_callback_crypto"]["cases"][index]
    q = {
        "msg_signature": case["msg_signature"],
        "timestamp": case["timestamp"],
        "nonce": case["nonce"],
    }
    q.update(query)
    q = {k: v for k, v in q.items() if v != "-"}
    body = json.dumps({"encrypt": case["encrypt"]}).encode()
    return RawRequest(method="POST", query=q, body=body)


async def test_event_check_url(settings, session, vectors) -> None:
    ad = make(settings, session, T_EVENT)
    assert ad.decode_event(event_raw(vectors, 0)) == UrlChallenge(
        platform="dingtalk", echo="success"
    )


async def test_event_message(settings, session, vectors) -> None:
    [msg] = make(settings, session, T_EVENT).decode_event(event_raw(vectors, 1))
    assert isinstance(msg, ChatMessage)
    assert msg.kind is MessageKind.EVENT and msg.event == "bpms_instance_change"
    assert msg.extra["event"]["title"] == "请假审批"


async def test_event_alternative_parameter_names(settings, session, vectors) -> None:
    case = vectors["b_callback_crypto"]["cases"][0]
    raw = event_raw(
        vectors,
        0,
        msg_signature="-",
        timestamp="-",
        signature=case["msg_signature"],
        timeStamp=case["timestamp"],
    )
    assert isinstance(make(settings, session, T_EVENT).decode_event(raw), UrlChallenge)


async def test_event_ack_is_encrypted_success(settings, session, vectors) -> None:
    ad = make(settings, session, T_EVENT, nonce_factory=lambda: "fixedNonce")
    reply = json.loads(ad.event_ack_body())
    assert set(reply) == {"msg_signature", "timeStamp", "nonce", "encrypt"}
    assert reply["timeStamp"] == "1700000000000" and reply["nonce"] == "fixedNonce"
    keys = vectors["b_callback_crypto"]["keys"]
    ec = crypto.EventCrypto(keys["token"], keys["aes_key"], keys["owner_key"])
    ec.verify(reply["msg_signature"], reply["timeStamp"], reply["nonce"], reply["encrypt"])
    assert ec.decrypt(reply["encrypt"]) == b"success"
    # a fresh random prefix every time
    assert json.loads(ad.event_ack_body())["encrypt"] != reply["encrypt"]


async def test_event_ack_known_answer(settings, session, vectors) -> None:
    case = vectors["b_callback_crypto"]["cases"][2]
    ad = make(
        settings,
        session,
        1700000000.001,
        random_bytes=lambda n: case["random16"].encode(),
        nonce_factory=lambda: case["nonce"],
    )
    assert json.loads(ad.event_ack_body()) == {
        "msg_signature": case["msg_signature"],
        "timeStamp": case["timeStamp"],
        "nonce": case["nonce"],
        "encrypt": case["encrypt"],
    }


@pytest.mark.parametrize(
    "query",
    [
        {"msg_signature": "0" * 40},
        {"nonce": "otherNonce"},
        {"msg_signature": "-"},
        {"nonce": "-"},
    ],
)
async def test_event_bad_signature(settings, session, vectors, query) -> None:
    with pytest.raises(InboundRejected) as exc:
        make(settings, session, T_EVENT).decode_event(event_raw(vectors, 0, **query))
    assert exc.value.status == 401


async def test_event_stale(settings, session, vectors) -> None:
    ad = make(settings, session, T_EVENT + settings.event_timestamp_tolerance_s + 5)
    with pytest.raises(InboundRejected) as exc:
        ad.decode_event(event_raw(vectors, 0))
    assert exc.value.status == 401


def _signed_event(token: str, encrypted: str) -> RawRequest:
    sig = crypto.event_signature(token, "1700000000000", "n1", encrypted)
    q = {"msg_signature": sig, "timestamp": "1700000000000", "nonce": "n1"}
    return RawRequest(method="POST", query=q, body=json.dumps({"encrypt": encrypted}).encode())


async def test_event_wrong_owner_key(settings, session, vectors) -> None:
    keys = vectors["b_callback_crypto"]["keys"]
    foreign = crypto.EventCrypto(keys["token"], keys["aes_key"], "dingSomeOtherApp")
    raw = _signed_event(keys["token"], foreign.encrypt('{"EventType":"check_url"}'))
    with pytest.raises(InboundRejected) as exc:
        make(settings, session, T_EVENT).decode_event(raw)
    assert exc.value.status == 400 and "owner" in exc.value.reason


@pytest.mark.parametrize("encrypted", ["bm90IGEgYmxvY2s=", "!!!!", "A" * 64])
async def test_event_undecryptable(settings, session, vectors, encrypted) -> None:
    raw = _signed_event(vectors["b_callback_crypto"]["keys"]["token"], encrypted)
    with pytest.raises(InboundRejected) as exc:
        make(settings, session, T_EVENT).decode_event(raw)
    assert exc.value.status == 400


async def test_event_decrypted_garbage(settings, session, vectors) -> None:
    keys = vectors["b_callback_crypto"]["keys"]
    ec = crypto.EventCrypto(keys["token"], keys["aes_key"], keys["owner_key"])
    raw = _signed_event(keys["token"], ec.encrypt("not json at all"))
    with pytest.raises(InboundRejected) as exc:
        make(settings, session, T_EVENT).decode_event(raw)
    assert exc.value.status == 400


@pytest.mark.parametrize("body", [b"nope", b'{"encrypt": 5}', b"{}", b"[]"])
async def test_event_malformed_body(settings, session, vectors, body) -> None:
    raw = event_raw(vectors, 0).model_copy(update={"body": body})
    with pytest.raises(InboundRejected) as exc:
        make(settings, session, T_EVENT).decode_event(raw)
    assert exc.value.status == 400


async def test_event_oversized(settings, session, vectors) -> None:
    raw = event_raw(vectors, 0).model_copy(update={"body": b" " * (settings.max_body_bytes + 1)})
    with pytest.raises(InboundRejected) as exc:
        make(settings, session, T_EVENT).decode_event(raw)
    assert exc.value.status == 413


async def test_event_not_configured(settings, session, vectors) -> None:
    bare = settings.model_copy(update={"event_token": settings.event_token.__class__("")})
    with pytest.raises(InboundRejected) as exc:
        make(bare, session, T_EVENT).decode_event(event_raw(vectors, 0))
    assert exc.value.status == 404


# --- card callbacks -----------------------------------------------------------------------------


def card_raw(vectors: dict[str, Any], body: bytes | None = None, **headers: str) -> RawRequest:
    d = vectors["d_card_callback"]
    h = {"x-ddpaas-signature-timestamp": d["timestamp"], "x-ddpaas-signature": d["signature"]}
    h.update(headers)
    h = {k: v for k, v in h.items() if v != "-"}
    return RawRequest(
        method="POST", headers=h, body=body if body is not None else _b("card_callback")
    )


async def test_card_ok(settings, session, vectors) -> None:
    ad = make(settings, session, T_EVENT + 5)
    [action] = ad.decode_card(card_raw(vectors))
    assert isinstance(action, CardAction)
    assert action.card_key == "t42_assign" and action.action == "v1.accept.42.sig"
    assert ad.card_decoder.decode(card_raw(vectors)) == [action]


@pytest.mark.parametrize(
    "headers",
    [
        {"x-ddpaas-signature": "t3jqwt0WBVsvNpgD+ncljxce56XsNOeEYafngX/BHjd="},
        {"x-ddpaas-signature": "-"},
        {"x-ddpaas-signature-timestamp": "-"},
        {"x-ddpaas-signature-timestamp": "1700000000001"},
    ],
)
async def test_card_forged(settings, session, vectors, headers) -> None:
    with pytest.raises(InboundRejected) as exc:
        make(settings, session, T_EVENT).decode_card(card_raw(vectors, **headers))
    assert exc.value.status == 401


async def test_card_stale(settings, session, vectors) -> None:
    with pytest.raises(InboundRejected):
        make(settings, session, T_EVENT + 7200).decode_card(card_raw(vectors))


async def test_card_callbacks_are_refused_when_no_secret_is_configured(
    settings, session, vectors
) -> None:
    """Even a settings object built past the config check never accepts an unsigned click."""
    open_settings = settings.model_construct(
        **{**dict(settings), "card_callback_secret": settings.card_callback_secret.__class__("")}
    )
    for headers in ({}, {"x-ddpaas-signature": "-", "x-ddpaas-signature-timestamp": "-"}):
        with pytest.raises(InboundRejected) as exc:
            make(open_settings, session, T_EVENT).decode_card(card_raw(vectors, **headers))
        assert exc.value.status == 401


def test_the_settings_require_the_card_callback_secret(settings) -> None:
    data = {**settings.model_dump(), "card_callback_secret": ""}
    data = {
        k: v.get_secret_value() if hasattr(v, "get_secret_value") else v for k, v in data.items()
    }
    with pytest.raises(ValidationError, match="card_callback_secret"):
        DingtalkSettings.model_validate(data)


@pytest.mark.parametrize(
    "body", [b"{", b'{"outTrackId":"x"}', b'{"outTrackId":"x","userId":"u","content":"{bad"}']
)
async def test_card_malformed(settings, session, vectors, body) -> None:
    with pytest.raises(InboundRejected) as exc:
        make(settings, session, T_EVENT).decode_card(card_raw(vectors, body))
    assert exc.value.status == 400


async def test_card_oversized(settings, session, vectors) -> None:
    with pytest.raises(InboundRejected) as exc:
        make(settings, session, T_EVENT).decode_card(card_raw(vectors, b"{" * 70000))
    assert exc.value.status == 413


async def test_card_ack_bodies(settings, session) -> None:
    ad = make(settings, session, T_EVENT)
    assert json.loads(ad.card_ack_body(None)) == {}
    done = Card(key="t42_assign", title="新工单 #42", status="张伟 已接单")
    answer = json.loads(ad.card_ack_body(done))
    assert answer["cardData"]["cardParamMap"]["status"] == "张伟 已接单"
    assert answer["userPrivateData"]["cardParamMap"]["hasButtons"] == "false"
    assert answer["cardUpdateOptions"] == {
        "updateCardDataByKey": True,
        "updatePrivateDataByKey": True,
    }
