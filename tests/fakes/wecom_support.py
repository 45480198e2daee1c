"""Shared helpers for the WeCom tests: vectors, settings, and requests signed like WeCom's."""

from __future__ import annotations

import json
import time
from functools import cache
from pathlib import Path
from typing import Any

from bot.ports import RawRequest
from bot.tencent_crypto import TencentCrypto
from bot.wecom.settings import WecomSettings
from tests.fakes.wecom_api import AGENT_ID, SECRET

REPO_ROOT = Path(__file__).resolve().parents[2]
VECTORS_PATH = REPO_ROOT / "tests" / "fixtures" / "vectors" / "wecom.json"
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "wecom"


@cache
def vectors() -> dict[str, Any]:
    return json.loads(VECTORS_PATH.read_text(encoding="utf-8"))


def params() -> dict[str, str]:
    return vectors()["params"]


def fixed_random(n: int) -> bytes:
    return params()["random16"].encode("ascii")[:n]


def make_settings(api_base: str = "http://127.0.0.1:9", **overrides: Any) -> WecomSettings:
    p = params()
    values: dict[str, Any] = {
        "corp_id": p["corpid"],
        "agent_id": AGENT_ID,
        "secret": SECRET,
        "token": p["token"],
        "encoding_aes_key": p["encoding_aes_key"],
        "api_base": api_base,
        "request_timeout_s": 2.0,
    }
    values.update(overrides)
    return WecomSettings(**values)


def envelope(encrypt: str, corp_id: str | None = None) -> bytes:
    to = corp_id if corp_id is not None else params()["corpid"]
    return (
        f"<xml><ToUserName><![CDATA[{to}]]></ToUserName><AgentID><![CDATA[{AGENT_ID}]]></AgentID>"
        f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    ).encode()


def signed_post(
    plaintext: bytes | str,
    *,
    timestamp: str | None = None,
    nonce: str = "1234567890",
    receive_id: str | None = None,
    encrypt: str | None = None,
    body: bytes | None = None,
) -> RawRequest:
    """A POST as WeCom would send it; ``encrypt``/``body`` override the honest values."""
    p = params()
    ts = timestamp or p["timestamp"]
    crypto = TencentCrypto(p["token"], p["encoding_aes_key"], receive_id or p["corpid"])
    enc = encrypt if encrypt is not None else crypto.encrypt(plaintext)
    query = {"msg_signature": crypto.signature(ts, nonce, enc), "timestamp": ts, "nonce": nonce}
    return RawRequest(method="POST", query=query, body=body if body is not None else envelope(enc))


def callback(xml: str, nonce: str) -> tuple[dict[str, str], bytes]:
    """The query and body WeCom posts for ``xml`` now: encrypted and signed."""
    p = params()
    crypto = TencentCrypto(p["token"], p["encoding_aes_key"], p["corpid"])
    ts, enc = str(int(time.time())), crypto.encrypt(xml)
    query = {"msg_signature": crypto.signature(ts, nonce, enc), "timestamp": ts, "nonce": nonce}
    return query, envelope(enc)


def xml_head(user: str) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{params()['corpid']}]]></ToUserName>"
        f"<FromUserName><![CDATA[{user}]]></FromUserName><CreateTime>{int(time.time())}</CreateTime>"
    )


def text_xml(user: str, text: str, msg_id: int) -> str:
    """A text message from ``user``; a retry by WeCom carries the same ``msg_id``."""
    return (
        xml_head(user) + f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{text}]]></Content>"
        f"<MsgId>{msg_id}</MsgId><AgentID>{AGENT_ID}</AgentID></xml>"
    )
