"""Known-answer tests: every vector in tests/fixtures/vectors/dingtalk.json."""

from __future__ import annotations

from typing import Any

import pytest
from Crypto.Cipher import AES

from bot.dingtalk import crypto
from bot.tencent_crypto import decode_aes_key


def _fixed(random16: str):
    return lambda n: random16.encode("ascii")[:n]


def test_robot_sign_vector(vectors: dict[str, Any]) -> None:
    a = vectors["a_robot_callback"]
    assert a["string_to_sign"].replace("\\n", "\n") == f"{a['timestamp']}\n{a['app_secret']}"
    assert crypto.robot_sign(a["timestamp"], a["app_secret"]) == a["sign"]


def test_robot_sign_window(vectors: dict[str, Any]) -> None:
    a = vectors["a_robot_callback"]
    t0 = int(a["timestamp"]) / 1000
    for offset in (0, 3599, -3599):
        crypto.verify_robot_sign(
            a["timestamp"], a["sign"], a["app_secret"], clock=lambda o=offset: t0 + o
        )
    for offset in (3601, -3601):
        with pytest.raises(crypto.SignatureError, match="window"):
            crypto.verify_robot_sign(
                a["timestamp"], a["sign"], a["app_secret"], clock=lambda o=offset: t0 + o
            )


def test_robot_sign_tighter_tolerance(vectors: dict[str, Any]) -> None:
    a = vectors["a_robot_callback"]
    t0 = int(a["timestamp"]) / 1000
    with pytest.raises(crypto.SignatureError):
        crypto.verify_robot_sign(
            a["timestamp"], a["sign"], a["app_secret"], tolerance_s=300, clock=lambda: t0 + 301
        )


@pytest.mark.parametrize(
    ("timestamp", "sign", "secret"),
    [
        ("1577262236757", "UO04jW/wmuSMHgEp9GzhRLXUiTJTKDYPlMmvWfldbZ0=", "wrong-secret"),
        ("1577262236757", "UO04jW/wmuSMHgEp9GzhRLXUiTJTKDYPlMmvWfldbZ1=", None),
        ("1577262236758", "UO04jW/wmuSMHgEp9GzhRLXUiTJTKDYPlMmvWfldbZ0=", None),
        ("", "UO04jW/wmuSMHgEp9GzhRLXUiTJTKDYPlMmvWfldbZ0=", None),
        ("1577262236757", "", None),
        ("15772622367x7", "UO04jW/wmuSMHgEp9GzhRLXUiTJTKDYPlMmvWfldbZ0=", None),
        ("１５７７２６２２３６７５７", "UO04jW/wmuSMHgEp9GzhRLXUiTJTKDYPlMmvWfldbZ0=", None),
    ],
)
def test_robot_sign_rejections(
    vectors: dict[str, Any], timestamp: str, sign: str, secret: str | None
) -> None:
    a = vectors["a_robot_callback"]
    with pytest.raises(crypto.SignatureError):
        crypto.verify_robot_sign(
            timestamp, sign, secret or a["app_secret"], clock=lambda: 1577262236.757
        )


def test_custom_robot_vector(vectors: dict[str, Any]) -> None:
    c = vectors["c_custom_robot"]
    assert crypto.robot_sign(c["timestamp"], c["secret"]) == c["sign_base64"]
    assert crypto.custom_robot_sign(c["timestamp"], c["secret"]) == c["sign_urlencoded"]
    url = crypto.custom_robot_url(
        "https://oapi.dingtalk.com", c["access_token"], c["timestamp"], c["secret"]
    )
    assert url == c["url"]


def test_card_signature_vector(vectors: dict[str, Any]) -> None:
    d = vectors["d_card_callback"]
    assert crypto.card_signature(d["timestamp"], d["api_secret"]) == d["signature"]
    crypto.verify_card_signature(
        d["timestamp"], d["signature"], d["api_secret"], clock=lambda: 1700000000.0
    )


def test_card_signature_accepts_both_readings(vectors: dict[str, Any]) -> None:
    d = vectors["d_card_callback"]
    robot_style = crypto.robot_sign(d["timestamp"], d["api_secret"])
    crypto.verify_card_signature(d["timestamp"], robot_style, d["api_secret"], clock=lambda: 1.7e9)
    # a seconds timestamp is also accepted when fresh
    ts = "1700000000"
    sig = crypto.card_signature(ts, d["api_secret"])
    crypto.verify_card_signature(ts, sig, d["api_secret"], clock=lambda: 1.7e9 + 10)


@pytest.mark.parametrize(
    ("timestamp", "signature", "now"),
    [
        ("1700000000000", "t3jqwt0WBVsvNpgD+ncljxce56XsNOeEYafngX/BHjd=", 1.7e9),
        ("1700000000001", "t3jqwt0WBVsvNpgD+ncljxce56XsNOeEYafngX/BHjc=", 1.7e9),
        ("1700000000000", "t3jqwt0WBVsvNpgD+ncljxce56XsNOeEYafngX/BHjc=", 1.7e9 + 3601),
        ("", "t3jqwt0WBVsvNpgD+ncljxce56XsNOeEYafngX/BHjc=", 1.7e9),
        ("1700000000000", "", 1.7e9),
    ],
)
def test_card_signature_rejections(
    vectors: dict[str, Any], timestamp: str, signature: str, now: float
) -> None:
    d = vectors["d_card_callback"]
    with pytest.raises(crypto.SignatureError):
        crypto.verify_card_signature(timestamp, signature, d["api_secret"], clock=lambda: now)


def _event(vectors: dict[str, Any], random16: str = "0123456789ABCDEF") -> crypto.EventCrypto:
    k = vectors["b_callback_crypto"]["keys"]
    return crypto.EventCrypto(
        k["token"], k["aes_key"], k["owner_key"], random_bytes=_fixed(random16)
    )


def test_event_key_and_iv(vectors: dict[str, Any]) -> None:
    k = vectors["b_callback_crypto"]["keys"]
    key = decode_aes_key(k["aes_key"])
    assert key.hex() == k["aes_key_bytes_hex"]
    assert key[:16].hex() == k["iv_hex"]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_event_cases(vectors: dict[str, Any], index: int) -> None:
    case = vectors["b_callback_crypto"]["cases"][index]
    ec = _event(vectors, case["random16"])
    assert ec.encrypt(case["plaintext"]) == case["encrypt"]
    assert ec.signature(case["timestamp"], case["nonce"], case["encrypt"]) == case["msg_signature"]
    ec.verify(case["msg_signature"], case["timestamp"], case["nonce"], case["encrypt"])
    assert ec.decrypt(case["encrypt"]).decode("utf-8") == case["plaintext"]
    # the padded plaintext block, decrypted with the raw key
    key = bytes.fromhex(vectors["b_callback_crypto"]["keys"]["aes_key_bytes_hex"])
    import base64

    block = AES.new(key, AES.MODE_CBC, key[:16]).decrypt(base64.b64decode(case["encrypt"]))
    assert block.hex() == case["plaintext_block_hex"]
    assert len(block) == case["padded_len"] and block[-1] == case["pad_byte"]


def test_event_reply_b3(vectors: dict[str, Any]) -> None:
    case = vectors["b_callback_crypto"]["cases"][2]
    ec = _event(vectors, case["random16"])
    reply = ec.reply("success", timestamp=case["timestamp"], nonce=case["nonce"])
    assert reply == {
        "msg_signature": case["msg_signature"],
        "timeStamp": case["timeStamp"],
        "nonce": case["nonce"],
        "encrypt": case["encrypt"],
    }


def test_event_reply_uses_injected_clock_and_nonce(vectors: dict[str, Any]) -> None:
    k = vectors["b_callback_crypto"]["keys"]
    case = vectors["b_callback_crypto"]["cases"][2]
    ec = crypto.EventCrypto(
        k["token"],
        k["aes_key"],
        k["owner_key"],
        random_bytes=_fixed(case["random16"]),
        nonce_factory=lambda: case["nonce"],
        clock=lambda: 1700000000.001,
    )
    body = ec.reply_json()
    assert body == (
        b'{"msg_signature":"cc5f1d6397177585abcb2323175353ae2efa7cf7","timeStamp":"1700000000001",'
        b'"nonce":"RespNonce0123456","encrypt":"' + case["encrypt"].encode() + b'"}'
    )


@pytest.mark.parametrize("name", ["kat_official_sample", "kat_official_doc"])
def test_official_known_answers(vectors: dict[str, Any], name: str) -> None:
    v = vectors[name]
    ec = crypto.EventCrypto(v["token"], v["aes_key"], v["owner_key"])
    assert ec.signature(v["timestamp"], v["nonce"], v["encrypt"]) == v["msg_signature"]
    assert ec.decrypt(v["encrypt"]).decode() == v["decrypted"]
    if "aes_key_bytes_hex" in v:
        assert decode_aes_key(v["aes_key"]).hex() == v["aes_key_bytes_hex"]


def test_event_wrong_owner_key_rejected(vectors: dict[str, Any]) -> None:
    v = vectors["kat_official_sample"]
    ec = crypto.EventCrypto(v["token"], v["aes_key"], "dingsomebodyelse")
    with pytest.raises(crypto.SignatureError, match="owner"):
        ec.decrypt(v["encrypt"])
    # the corpId reading can be allowed explicitly
    ok = crypto.EventCrypto(
        v["token"], v["aes_key"], "dingappkey", extra_owner_keys=[v["owner_key"]]
    )
    assert ok.decrypt(v["encrypt"]) == v["decrypted"].encode()


def test_event_ciphertext_with_line_breaks(vectors: dict[str, Any]) -> None:
    case = vectors["b_callback_crypto"]["cases"][1]
    wrapped = "\n".join(case["encrypt"][i : i + 76] for i in range(0, len(case["encrypt"]), 76))
    assert _event(vectors).decrypt(wrapped).decode() == case["plaintext"]


@pytest.mark.parametrize("garbage", ["", "not base64!!", "QUJD", "A" * 44])
def test_event_garbage_rejected(vectors: dict[str, Any], garbage: str) -> None:
    with pytest.raises(crypto.SignatureError):
        _event(vectors).decrypt(garbage)


def test_event_signature_mismatch(vectors: dict[str, Any]) -> None:
    case = vectors["b_callback_crypto"]["cases"][0]
    ec = _event(vectors)
    with pytest.raises(crypto.SignatureError):
        ec.verify("0" * 40, case["timestamp"], case["nonce"], case["encrypt"])
    with pytest.raises(crypto.SignatureError):
        ec.verify(case["msg_signature"], case["timestamp"], "otherNonce", case["encrypt"])
    with pytest.raises(crypto.SignatureError):
        ec.verify("", case["timestamp"], case["nonce"], case["encrypt"])
