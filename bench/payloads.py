"""Benchmark credentials, the config they go into, and callbacks signed with them.

Everything here is a test credential made up for the benchmark. With the workers off the
platform API bases point at a local port that nothing listens on (nothing calls out); with
them on (bench/e2e.py) they point at fake platform servers on 127.0.0.1.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass

from bot.tencent_crypto import TencentCrypto

WECOM_CORP_ID = "wwbench00000000001"
WECOM_AGENT_ID = 1000002
WECOM_SECRET = "bench-wecom-secret"
WECOM_TOKEN = "benchtoken"
WECOM_AES_KEY = base64.b64encode(hashlib.sha256(b"chatdesk-bench").digest()).decode()[:43]
DING_APP_KEY = "dingbenchappkey"
DING_APP_SECRET = "bench-dingtalk-app-secret"
DING_CARD_SECRET = "bench-dingtalk-card-secret"

WECOM_PATH = "/webhooks/wecom"
DINGTALK_PATH = "/webhooks/dingtalk/robot"
PATHS = {"wecom": WECOM_PATH, "dingtalk": DINGTALK_PATH}


def config_yaml(
    *,
    database_url: str,
    port: int,
    dead_port: int,
    workers: bool = False,
    redis_url: str = "",
    fakes: dict[str, str] | None = None,
    extra: dict[str, object] | None = None,
) -> str:
    """The chatdesk config: both platforms, whose APIs are at ``dead_port`` (nothing listens:
    the inbox worker and relay are off) or at ``fakes`` ({"wecom": URL, "dingtalk": URL});
    ``extra`` adds top-level keys (people, ticket types)."""
    dead = f"http://127.0.0.1:{dead_port}"
    wecom_api = (fakes or {}).get("wecom", dead)
    ding_api = (fakes or {}).get("dingtalk", dead)
    return json.dumps(  # JSON is YAML
        {
            "database_url": database_url,
            "redis_url": redis_url,
            "log_level": "WARNING",
            "sandbox": "off",
            "http": {
                "host": "127.0.0.1",
                "port": port,
                "public_base_url": f"http://127.0.0.1:{port}",
            },
            "workers": {"run": workers},
            "wecom": {
                "corp_id": WECOM_CORP_ID,
                "agent_id": WECOM_AGENT_ID,
                "secret": WECOM_SECRET,
                "token": WECOM_TOKEN,
                "encoding_aes_key": WECOM_AES_KEY,
                "api_base": wecom_api,
                "request_timeout_s": 2.0,
            },
            "dingtalk": {
                "app_key": DING_APP_KEY,
                "app_secret": DING_APP_SECRET,
                "card_callback_secret": DING_CARD_SECRET,
                "api_base": ding_api,
                "oapi_base": ding_api,
                "request_timeout_s": 2.0,
            },
            **(extra or {}),
        },
        ensure_ascii=False,
        indent=2,
    )


@dataclass(frozen=True)
class Callback:
    msg_id: str
    path_qs: str  # path and already-encoded query string
    headers: dict[str, str]
    body: bytes


def dedupe_prefix(platform: str, tag: str) -> str:
    """What every inbox dedupe_key of one run starts with (see bot/*/parse.py)."""
    return f"{platform}:msg:{tag}"


def msg_id(tag: str, i: int) -> str:
    return f"{tag}{i:08d}"


REPORT = "报修 A-{n} 注塑机报警 E31，请尽快安排"


def user_of(tag: str, i: int, distinct: bool) -> str:
    """Who sends callback ``i``: one of 500 customers, or a customer of its own."""
    return f"kh{tag}x{i}" if distinct else f"kehu{i % 500:03d}"


def wecom_callbacks(
    tag: str, n: int, *, text: str = REPORT, distinct: bool = False
) -> list[Callback]:
    """``n`` text messages, each encrypted and signed like WeCom's, with a unique MsgId;
    ``{n}`` in ``text`` becomes a device number (1000-9999)."""
    crypto = TencentCrypto(WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORP_ID)
    now = int(time.time())
    ts = str(now)
    out = []
    for i in range(n):
        mid = msg_id(tag, i)
        xml = (
            f"<xml><ToUserName><![CDATA[{WECOM_CORP_ID}]]></ToUserName>"
            f"<FromUserName><![CDATA[{user_of(tag, i, distinct)}]]></FromUserName>"
            f"<CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{text.format(n=i % 9000 + 1000)}]]></Content>"
            f"<MsgId>{mid}</MsgId><AgentID>{WECOM_AGENT_ID}</AgentID></xml>"
        )
        enc = crypto.encrypt(xml)
        nonce = secrets.token_hex(5)
        sig = crypto.signature(ts, nonce, enc)
        body = (
            f"<xml><ToUserName><![CDATA[{WECOM_CORP_ID}]]></ToUserName>"
            f"<AgentID><![CDATA[{WECOM_AGENT_ID}]]></AgentID>"
            f"<Encrypt><![CDATA[{enc}]]></Encrypt></xml>"
        ).encode()
        out.append(
            Callback(
                msg_id=mid,
                path_qs=f"{WECOM_PATH}?msg_signature={sig}&timestamp={ts}&nonce={nonce}",
                headers={"Content-Type": "text/xml"},
                body=body,
            )
        )
    return out


def robot_sign(ts_ms: str, secret: str) -> str:
    mac = hmac.new(secret.encode(), f"{ts_ms}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def dingtalk_callbacks(
    tag: str, n: int, *, text: str = REPORT, distinct: bool = False
) -> list[Callback]:
    """``n`` robot text callbacks with timestamp + sign headers and a unique msgId."""
    out = []
    for i in range(n):
        mid = msg_id(tag, i)
        ts = str(int(time.time() * 1000))
        user = user_of(tag, i, distinct)
        body = {
            "msgId": mid,
            "createAt": int(ts),
            "conversationType": "1",
            "conversationId": f"cid{user}",
            "senderId": f"$:LWCP_v1:${user}",
            "senderNick": "客户",
            "senderStaffId": user,
            "chatbotUserId": "$:LWCP_v1:$robot",
            "robotCode": DING_APP_KEY,
            "msgtype": "text",
            "text": {"content": text.format(n=i % 9000 + 1000)},
        }
        out.append(
            Callback(
                msg_id=mid,
                path_qs=DINGTALK_PATH,
                headers={
                    "timestamp": ts,
                    "sign": robot_sign(ts, DING_APP_SECRET),
                    "Content-Type": "application/json",
                },
                body=json.dumps(body, ensure_ascii=False).encode(),
            )
        )
    return out


def build(
    platform: str, tag: str, n: int, *, text: str = REPORT, distinct: bool = False
) -> list[Callback]:
    make = wecom_callbacks if platform == "wecom" else dingtalk_callbacks
    return make(tag, n, text=text, distinct=distinct)


def new_tag() -> str:
    """Digits unique to one run (MsgIds are numeric on WeCom)."""
    return f"{int(time.time()) % 10**6:06d}{int.from_bytes(os.urandom(2), 'big') % 1000:03d}"
