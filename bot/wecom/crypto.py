"""WeCom callback envelopes on top of ``bot.tencent_crypto`` (reference/wecom.md §1, §2.6, §3.5).

- ``verify_url``: the GET handshake → decrypted ``echostr``.
- ``open_envelope``: the encrypted POST body → decrypted inner XML bytes.
- ``seal_reply``: an optional passive encrypted reply (``<Encrypt>/<MsgSignature>/...``).

The outer XML is parsed with defusedxml and any DTD, entity or external reference is refused.
"""

from __future__ import annotations

import hmac
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as _defused_fromstring

from bot.tencent_crypto import (
    ReceiveIdError,
    ReplyBuildError,
    SignatureError,
    TencentCrypto,
    XmlError,
)
from bot.wecom.render import truncate_bytes


def safe_fromstring(data: bytes | str) -> ET.Element:
    """Parse XML refusing DTDs, entities and external references; XmlError otherwise."""
    try:
        return _defused_fromstring(
            data, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except (DefusedXmlException, ET.ParseError, ValueError, TypeError) as exc:
        raise XmlError("body is not acceptable XML") from exc


def cdata(value: str) -> str:
    """A CDATA section that survives a ``]]>`` inside the value."""
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


@dataclass(frozen=True)
class Envelope:
    to_user_name: str
    agent_id: str
    encrypt: str


def parse_envelope(body: bytes) -> Envelope:
    root = safe_fromstring(body)
    encrypt = (root.findtext("Encrypt") or "").strip()
    if not encrypt:
        raise XmlError("envelope has no Encrypt element")
    return Envelope(
        to_user_name=(root.findtext("ToUserName") or "").strip(),
        agent_id=(root.findtext("AgentID") or "").strip(),
        encrypt=encrypt,
    )


class WecomCrypto:
    def __init__(
        self,
        token: str,
        encoding_aes_key: str,
        corp_id: str,
        *,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.corp_id = corp_id
        self._tc = TencentCrypto(token, encoding_aes_key, corp_id, random_bytes=random_bytes)

    @property
    def tencent(self) -> TencentCrypto:
        return self._tc

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> bytes:
        """Check the GET handshake and return the bytes to answer with (the decrypted echostr)."""
        if not self._tc.verify_signature(msg_signature, timestamp, nonce, echostr):
            raise SignatureError("signature mismatch")
        return self._tc.decrypt(echostr)

    def open_envelope(self, body: bytes, msg_signature: str, timestamp: str, nonce: str) -> bytes:
        """Verify and decrypt an encrypted POST body; returns the inner XML bytes."""
        env = parse_envelope(body)
        if not self._tc.verify_signature(msg_signature, timestamp, nonce, env.encrypt):
            raise SignatureError("signature mismatch")
        if env.to_user_name and not hmac.compare_digest(
            env.to_user_name.encode("utf-8"), self.corp_id.encode("utf-8")
        ):
            raise ReceiveIdError("envelope addressed to another corp")
        return self._tc.decrypt(env.encrypt)

    def seal_reply(self, reply_xml: bytes | str, timestamp: str, nonce: str) -> str:
        """The encrypted passive reply body for an inner reply message (§2.6)."""
        if not str(timestamp).isdigit():
            raise ReplyBuildError("timestamp must be decimal digits")
        encrypted = self._tc.encrypt(reply_xml)
        signature = self._tc.signature(timestamp, nonce, encrypted)
        return (
            f"<xml><Encrypt>{cdata(encrypted)}</Encrypt>"
            f"<MsgSignature>{cdata(signature)}</MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp>"
            f"<Nonce>{cdata(nonce)}</Nonce></xml>"
        )


def text_reply_xml(to_user: str, corp_id: str, create_time: int, content: str) -> str:
    """Inner XML of a passive text reply (§3.5); Content is cut to 2048 UTF-8 bytes."""
    return (
        f"<xml><ToUserName>{cdata(to_user)}</ToUserName>"
        f"<FromUserName>{cdata(corp_id)}</FromUserName>"
        f"<CreateTime>{int(create_time)}</CreateTime>"
        f"<MsgType>{cdata('text')}</MsgType>"
        f"<Content>{cdata(truncate_bytes(content, 2048))}</Content></xml>"
    )
