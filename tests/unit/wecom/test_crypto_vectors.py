"""Known-answer tests for bot.tencent_crypto: every vector of reference/vectors/wecom.json,
the official WXBizMsgCrypt samples (spec §9.2), and the negative cases of spec §9.1."""

from __future__ import annotations

import base64
import struct

import pytest
from Crypto.Cipher import AES
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.tencent_crypto import (
    AesKeyError,
    Base64Error,
    CryptoError,
    IllegalBufferError,
    ReceiveIdError,
    TencentCrypto,
    decode_aes_key,
)
from tests.fakes.wecom_support import fixed_random, params, vectors

OUR_VECTORS = ["echo", "text", "card", "pad32", "reply"]


def ours() -> TencentCrypto:
    p = params()
    return TencentCrypto(p["token"], p["encoding_aes_key"], p["corpid"], random_bytes=fixed_random)


def test_key_and_iv_match_the_vector_parameters() -> None:
    key = decode_aes_key(params()["encoding_aes_key"])
    assert key.hex() == params()["aes_key_hex"]
    assert key[:16].hex() == params()["iv_hex"]


@pytest.mark.parametrize("name", OUR_VECTORS)
def test_encrypt_reproduces_vector(name: str) -> None:
    v = vectors()[name]
    assert ours().encrypt(v["plaintext"]) == v["encrypt"]


@pytest.mark.parametrize("name", OUR_VECTORS)
def test_decrypt_vector(name: str) -> None:
    v = vectors()[name]
    plain = ours().decrypt(v["encrypt"])
    assert plain == v["plaintext"].encode("utf-8")
    assert len(plain) == v["plaintext_bytes"]


@pytest.mark.parametrize("name", OUR_VECTORS)
def test_signature_vector(name: str) -> None:
    v, p = vectors()[name], params()
    c = ours()
    assert c.signature(p["timestamp"], p["nonce"], v["encrypt"]) == v["msg_signature"]
    assert c.verify_signature(v["msg_signature"], p["timestamp"], p["nonce"], v["encrypt"])
    assert not c.verify_signature("0" * 40, p["timestamp"], p["nonce"], v["encrypt"])


@pytest.mark.parametrize("name", OUR_VECTORS)
def test_padding_value_matches_vector(name: str) -> None:
    v = vectors()[name]
    raw = AES.new(
        bytes.fromhex(params()["aes_key_hex"]), AES.MODE_CBC, bytes.fromhex(params()["iv_hex"])
    ).decrypt(base64.b64decode(v["encrypt"]))
    assert raw[-1] == v["pad"]
    assert len(raw) % 32 == 0


def test_echo_get_query_is_consistent() -> None:
    v = vectors()["echo"]
    q = v["get_query"]
    assert ours().verify_signature(q["msg_signature"], q["timestamp"], q["nonce"], q["echostr"])
    assert ours().decrypt(q["echostr"]) == b"7044226451874916351"


# -- official samples (spec §9.2) -------------------------------------------------------------

O_TOKEN, O_KEY, O_CORP = (
    "QDG6eK",
    "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
    "wx5823bf96d3bd56c7",
)
O3_TOKEN, O3_KEY, O3_CORP = (
    "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo",
    "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt",
    "ww1436e0e65a779aee",
)
O1_ECHO = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
O2_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUp"
    "j911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpu"
    "e06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKI"
    "w+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0"
    "MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2p"
    "DBS8R07+qN+E7Q=="
)
O3_ECHO = "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA=="
O4_ENCRYPT = (
    "Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGz"
    "BhzTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U+3J"
    "WcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qARR4iQH"
    "E7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYu"
    "PDGOCI8jmnKiypE+"
)

OFFICIAL = [
    # (token, key, corp, signature, timestamp, nonce, encrypted, expected substring, pad)
    (O_TOKEN, O_KEY, O_CORP, "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659589",
     "263014780", O1_ECHO, b"1616140317555161061", 7),
    (O_TOKEN, O_KEY, O_CORP, "477715d11cdb4164915debcba66cb864d751f3e6", "1409659813",
     "1372623149", O2_ENCRYPT, b"<Content><![CDATA[hello]]></Content>", 30),
    (O3_TOKEN, O3_KEY, O3_CORP, "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb", "1476416373",
     "47744683", O3_ECHO, b"1288432023552776189", 7),
    (O3_TOKEN, O3_KEY, O3_CORP, "0c3914025cb4b4d68103f6bfc8db550f79dcf48e", "1476422779",
     "1597212914", O4_ENCRYPT, "<Content>你好</Content>".encode(), 22),
]  # fmt: skip


@pytest.mark.parametrize("case", OFFICIAL, ids=["O1", "O2", "O3", "O4"])
def test_official_sample(case: tuple) -> None:
    token, key, corp, sig, ts, nonce, enc, expected, pad = case
    c = TencentCrypto(token, key, corp)
    assert c.signature(ts, nonce, enc) == sig
    assert c.verify_signature(sig, ts, nonce, enc)
    plain = c.decrypt(enc)
    assert expected in plain
    raw = AES.new(decode_aes_key(key), AES.MODE_CBC, decode_aes_key(key)[:16]).decrypt(
        base64.b64decode(enc)
    )
    assert raw[-1] == pad  # the padding trap: >16 for O2/O4


def test_official_sample_o2_full_plaintext() -> None:
    plain = TencentCrypto(O_TOKEN, O_KEY, O_CORP).decrypt(O2_ENCRYPT).decode()
    assert "<FromUserName><![CDATA[mycreate]]></FromUserName>" in plain
    assert "<MsgId>4561255354251345929</MsgId>" in plain
    assert "<AgentID>218</AgentID>" in plain


# -- negative cases (spec §9.1 and strictness) ------------------------------------------------


def test_wrong_receive_id_is_40005() -> None:
    p = params()
    other = TencentCrypto(p["token"], p["encoding_aes_key"], "wwSOMEOTHERCORP")
    with pytest.raises(ReceiveIdError) as err:
        other.decrypt(vectors()["text"]["encrypt"])
    assert err.value.code == -40005
    assert other.decrypt(vectors()["text"]["encrypt"], check_receive_id=False).startswith(b"<xml>")
    _, rid = other.decrypt_with_receive_id(vectors()["text"]["encrypt"])
    assert rid == p["corpid"]


def test_wrong_key_is_40008() -> None:
    p = params()
    wrong = TencentCrypto(p["token"], "B" * 43, p["corpid"])
    with pytest.raises(CryptoError) as err:
        wrong.decrypt(vectors()["text"]["encrypt"])
    assert err.value.code == -40008


@pytest.mark.parametrize("key", ["", "A" * 42, "A" * 44, "A" * 42 + "!", "中" * 43])
def test_bad_aes_key_is_40004(key: str) -> None:
    with pytest.raises(AesKeyError) as err:
        TencentCrypto("t", key, "ww1")
    assert err.value.code == -40004
    assert key not in str(err.value) or not key


@pytest.mark.parametrize("bad", ["not base64!!", "AAAA=A==", "QUJD\n", "ä" * 8])
def test_bad_base64_is_40010(bad: str) -> None:
    with pytest.raises(Base64Error) as err:
        ours().decrypt(bad)
    assert err.value.code == -40010


@pytest.mark.parametrize("size", [0, 16, 48])
def test_bad_length_is_40008(size: int) -> None:
    with pytest.raises(IllegalBufferError) as err:
        ours().decrypt(base64.b64encode(b"\x00" * size).decode())
    assert err.value.code == -40008


def _raw_encrypt(plain: bytes) -> str:
    key = bytes.fromhex(params()["aes_key_hex"])
    return base64.b64encode(AES.new(key, AES.MODE_CBC, key[:16]).encrypt(plain)).decode()


def _plain(msg: bytes) -> bytes:
    return b"r" * 16 + struct.pack(">I", len(msg)) + msg + params()["corpid"].encode()


@pytest.mark.parametrize(
    "tail",
    [b"\x00", b"\x21", b"\xff", b"\x05\x05\x05\x04\x05"],
    ids=["pad0", "pad33", "pad255", "inconsistent"],
)
def test_bad_padding_is_40008(tail: bytes) -> None:
    body = _plain(b"hello")
    fill = (-(len(body) + len(tail))) % 32
    plain = body + b"x" * fill + tail
    assert len(plain) % 32 == 0
    with pytest.raises(IllegalBufferError) as err:
        ours().decrypt(_raw_encrypt(plain))
    assert err.value.code == -40008


def test_length_field_beyond_buffer_is_40008() -> None:
    plain = b"r" * 16 + struct.pack(">I", 10_000) + b"abc"
    plain += bytes([32 - len(plain) % 32]) * (32 - len(plain) % 32)
    with pytest.raises(IllegalBufferError):
        ours().decrypt(_raw_encrypt(plain))


def test_pad_of_32_is_accepted_and_16_block_pkcs7_would_fail() -> None:
    enc = vectors()["pad32"]["encrypt"]
    assert ours().decrypt(enc) == b"12345678901234567890123456"


def test_random_prefix_must_be_16_bytes() -> None:
    p = params()
    c = TencentCrypto(p["token"], p["encoding_aes_key"], p["corpid"], random_bytes=lambda n: b"x")
    with pytest.raises(CryptoError):
        c.encrypt("hi")


# -- properties -------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    msg=st.binary(max_size=3000),
    receive_id=st.text(min_size=1, max_size=40),
    prefix=st.binary(min_size=16, max_size=16),
)
def test_round_trip(msg: bytes, receive_id: str, prefix: bytes) -> None:
    p = params()
    c = TencentCrypto(p["token"], p["encoding_aes_key"], receive_id, random_bytes=lambda n: prefix)
    enc = c.encrypt(msg)
    assert len(base64.b64decode(enc)) % 32 == 0
    assert c.decrypt(enc) == msg
    assert c.decrypt_with_receive_id(enc) == (msg, receive_id)


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=500), ts=st.from_regex(r"[0-9]{1,12}", fullmatch=True))
def test_signature_round_trip_and_tamper(text: str, ts: str) -> None:
    c = ours()
    enc = c.encrypt(text)
    sig = c.signature(ts, "nonce", enc)
    assert c.verify_signature(sig, ts, "nonce", enc)
    assert c.verify_signature(sig.upper(), ts, "nonce", enc)
    assert not c.verify_signature(sig, ts, "nonce2", enc)
    assert c.decrypt(enc).decode("utf-8") == text


@settings(max_examples=100, deadline=None)
@given(data=st.binary(min_size=1, max_size=200))
def test_garbage_never_raises_anything_but_crypto_error(data: bytes) -> None:
    try:
        ours().decrypt(base64.b64encode(data).decode())
    except CryptoError:
        pass
