"""WecomAdapter.decode / WecomCrypto: the vectors as real requests, and every rejection path."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.inbound import CardAction, ChatMessage, MessageKind, UrlChallenge
from bot.ports import InboundRejected, RawRequest
from bot.tencent_crypto import ReceiveIdError, SignatureError, XmlError
from bot.wecom.adapter import WecomAdapter
from bot.wecom.crypto import WecomCrypto, text_reply_xml
from core.cache import MemoryCache
from tests.fakes.wecom_support import (
    envelope,
    fixed_random,
    make_settings,
    params,
    signed_post,
    vectors,
)

NOW = 1700000000.0


@pytest.fixture
async def adapter() -> AsyncIterator[WecomAdapter]:
    async with aiohttp.ClientSession() as session:
        yield WecomAdapter(make_settings(), MemoryCache(), session, clock=lambda: NOW)


def wecom_crypto() -> WecomCrypto:
    p = params()
    return WecomCrypto(p["token"], p["encoding_aes_key"], p["corpid"], random_bytes=fixed_random)


# -- WecomCrypto ------------------------------------------------------------------------------


def test_verify_url_vector() -> None:
    q = vectors()["echo"]["get_query"]
    out = wecom_crypto().verify_url(q["msg_signature"], q["timestamp"], q["nonce"], q["echostr"])
    assert out == b"7044226451874916351"


@pytest.mark.parametrize("name", ["text", "card"])
def test_open_envelope_vectors(name: str) -> None:
    v, p = vectors()[name], params()
    xml = wecom_crypto().open_envelope(
        v["post_body"].encode(), v["msg_signature"], p["timestamp"], p["nonce"]
    )
    assert xml == v["plaintext"].encode()


def test_seal_reply_reproduces_v5() -> None:
    v, p = vectors()["reply"], params()
    inner = text_reply_xml("zhangsan", p["corpid"], 1700000001, "工单已创建 ticket created")
    assert inner == v["plaintext"]
    assert wecom_crypto().seal_reply(inner, p["timestamp"], p["nonce"]) == v["reply_body"]


def test_envelope_errors_carry_official_codes() -> None:
    v, p = vectors()["text"], params()
    c = wecom_crypto()
    with pytest.raises(SignatureError) as e1:
        c.open_envelope(v["post_body"].encode(), "0" * 40, p["timestamp"], p["nonce"])
    assert e1.value.code == -40001
    with pytest.raises(XmlError) as e2:
        c.open_envelope(b"<xml><ToUserName>x</ToUserName></xml>", "0" * 40, "1", "2")
    assert e2.value.code == -40002
    with pytest.raises(ReceiveIdError) as e3:
        c.open_envelope(
            envelope(v["encrypt"], "wwOTHER"), v["msg_signature"], p["timestamp"], p["nonce"]
        )
    assert e3.value.code == -40005


# -- decode: accepted ---------------------------------------------------------------------------


async def test_get_challenge(adapter: WecomAdapter) -> None:
    q = vectors()["echo"]["get_query"]
    out = adapter.decode(RawRequest(method="GET", query=q))
    assert out == UrlChallenge(platform="wecom", echo="7044226451874916351")


async def test_post_text_vector(adapter: WecomAdapter) -> None:
    v, p = vectors()["text"], params()
    q = {"msg_signature": v["msg_signature"], "timestamp": p["timestamp"], "nonce": p["nonce"]}
    out = adapter.decode(RawRequest(method="POST", query=q, body=v["post_body"].encode()))
    assert isinstance(out, list)
    (m,) = out
    assert isinstance(m, ChatMessage)
    assert (m.kind, m.text, m.user_id) == (
        MessageKind.TEXT,
        "打印机坏了 printer broken",
        "zhangsan",
    )


async def test_post_card_vector(adapter: WecomAdapter) -> None:
    v, p = vectors()["card"], params()
    q = {"msg_signature": v["msg_signature"], "timestamp": p["timestamp"], "nonce": p["nonce"]}
    (a,) = adapter.decode(RawRequest(method="POST", query=q, body=v["post_body"].encode()))
    assert isinstance(a, CardAction)
    assert (a.card_key, a.action, a.response_code) == (
        "ticket_42_v1",
        "ticket_42_accept",
        "rc_example_only",
    )


async def test_timestamp_inside_tolerance_is_accepted(adapter: WecomAdapter) -> None:
    raw = signed_post(vectors()["text"]["plaintext"], timestamp=str(int(NOW) - 299))
    assert isinstance(adapter.decode(raw), list)


async def test_ack_body(adapter: WecomAdapter) -> None:
    assert adapter.ack_body(signed_post("x")) == (b"", "text/plain")


# -- decode: rejected ---------------------------------------------------------------------------

TEXT = vectors()["text"]["plaintext"]
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    b"<xml><Encrypt>&lol3;</Encrypt></xml>"
)
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b"<xml><ToUserName>&xxe;</ToUserName><Encrypt>AAAA</Encrypt></xml>"
)
INNER_XXE = (
    '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<xml><FromUserName>&xxe;</FromUserName><MsgType>text</MsgType></xml>"
)


def _bad_padding_encrypt() -> str:
    import base64
    import struct

    from Crypto.Cipher import AES

    key = bytes.fromhex(params()["aes_key_hex"])
    body = b"r" * 16 + struct.pack(">I", 2) + b"hi" + params()["corpid"].encode()
    body += b"x" * ((-len(body) - 1) % 32) + b"\x21"
    return base64.b64encode(AES.new(key, AES.MODE_CBC, key[:16]).encrypt(body)).decode()


def _tampered_signature() -> RawRequest:
    raw = signed_post(TEXT)
    return raw.model_copy(update={"query": {**raw.query, "msg_signature": "0" * 40}})


REJECTIONS = {
    "bad_signature": (_tampered_signature, 401),
    "signature_of_other_nonce": (
        lambda: signed_post(TEXT).model_copy(
            update={"query": {**signed_post(TEXT).query, "nonce": "999"}}
        ),
        401,
    ),
    "stale_timestamp": (lambda: signed_post(TEXT, timestamp=str(int(NOW) - 301)), 401),
    "future_timestamp": (lambda: signed_post(TEXT, timestamp=str(int(NOW) + 3600)), 401),
    "non_numeric_timestamp": (lambda: signed_post(TEXT, timestamp="17e8"), 400),
    "wrong_corp_id_inside": (lambda: signed_post(TEXT, receive_id="wwSOMEOTHERCORP"), 403),
    "wrong_corp_id_outside": (
        lambda: signed_post(
            TEXT,
            body=envelope(vectors()["text"]["encrypt"], "wwSOMEOTHERCORP"),
            encrypt=vectors()["text"]["encrypt"],
        ),
        403,
    ),
    "broken_base64": (lambda: signed_post(TEXT, encrypt="@@@not-base64@@@"), 400),
    "bad_length": (lambda: signed_post(TEXT, encrypt="QUJDREVGR0hJSktMTU5PUA=="), 400),
    "bad_padding": (lambda: signed_post(TEXT, encrypt=_bad_padding_encrypt()), 400),
    "xxe": (lambda: signed_post(TEXT, body=XXE), 400),
    "billion_laughs": (lambda: signed_post(TEXT, body=BILLION_LAUGHS), 400),
    "inner_xxe": (lambda: signed_post(INNER_XXE), 400),
    "not_xml": (lambda: signed_post(TEXT, body=b'{"encrypt": "x"}'), 400),
    "no_encrypt_element": (lambda: signed_post(TEXT, body=b"<xml><A>1</A></xml>"), 400),
    "empty_body": (lambda: signed_post(TEXT, body=b""), 400),
    "oversized": (lambda: signed_post(TEXT, body=b"<xml>" + b"a" * 70_000 + b"</xml>"), 413),
}


@pytest.mark.parametrize("name", sorted(REJECTIONS))
async def test_post_rejections(adapter: WecomAdapter, name: str) -> None:
    build, status = REJECTIONS[name]
    with pytest.raises(InboundRejected) as err:
        adapter.decode(build())
    assert err.value.status == status
    assert 400 <= err.value.status < 500
    secrets = (params()["token"], params()["encoding_aes_key"], "fake-secret")
    assert not any(s in err.value.reason for s in secrets)


@pytest.mark.parametrize("missing", ["msg_signature", "timestamp", "nonce"])
async def test_post_missing_query_parameter(adapter: WecomAdapter, missing: str) -> None:
    raw = signed_post(TEXT)
    query = {k: v for k, v in raw.query.items() if k != missing}
    with pytest.raises(InboundRejected) as err:
        adapter.decode(raw.model_copy(update={"query": query}))
    assert err.value.status == 400
    assert missing in err.value.reason


@pytest.mark.parametrize("missing", ["msg_signature", "timestamp", "nonce", "echostr"])
async def test_get_missing_query_parameter(adapter: WecomAdapter, missing: str) -> None:
    q = {k: v for k, v in vectors()["echo"]["get_query"].items() if k != missing}
    with pytest.raises(InboundRejected) as err:
        adapter.decode(RawRequest(method="GET", query=q))
    assert err.value.status == 400


async def test_get_bad_signature_and_stale(adapter: WecomAdapter) -> None:
    q = dict(vectors()["echo"]["get_query"])
    with pytest.raises(InboundRejected) as err:
        adapter.decode(RawRequest(method="GET", query={**q, "msg_signature": "1" * 40}))
    assert err.value.status == 401
    async with aiohttp.ClientSession() as session:
        late = WecomAdapter(make_settings(), MemoryCache(), session, clock=lambda: NOW + 10_000)
        with pytest.raises(InboundRejected) as err2:
            late.decode(RawRequest(method="GET", query=q))
    assert err2.value.status == 401


async def test_tolerance_comes_from_settings() -> None:
    async with aiohttp.ClientSession() as session:
        strict = WecomAdapter(
            make_settings(timestamp_tolerance_s=10), MemoryCache(), session, clock=lambda: NOW
        )
        with pytest.raises(InboundRejected):
            strict.decode(signed_post(TEXT, timestamp=str(int(NOW) - 11)))
        assert strict.decode(signed_post(TEXT, timestamp=str(int(NOW) - 9)))
