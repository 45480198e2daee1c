"""DingTalk signatures and the encrypted event envelope (reference/dingtalk.md §1.3, §3, §6.4).

Three independent checks live here, each with time (and for the reply, randomness) injected:

* the robot HTTP-callback ``sign`` header (HMAC-SHA256 over ``timestamp + "\\n" + appSecret``);
* the event-subscription envelope (DingCallbackCrypto), built on the AES-CBC/PKCS#7-32/SHA1
  envelope shared with WeCom in ``bot.tencent_crypto``;
* the card-callback ``x-ddpaas-signature`` header (HMAC-SHA256 over the timestamp header).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import string
import time
import urllib.parse
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.tencent_crypto import TencentCrypto

Clock = Callable[[], float]  # seconds since the epoch


class SignatureError(Exception):
    """A signature or timestamp check failed; ``reason`` carries no secret."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _hmac_b64(key: str, message: str) -> str:
    digest = hmac.new(key.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _parse_ms(timestamp: str) -> int:
    """A millisecond timestamp header; refuses anything that is not plain decimal digits."""
    ts = timestamp.strip()
    if not ts or not ts.isascii() or not ts.isdigit() or len(ts) > 16:
        raise SignatureError("timestamp is not a decimal number")
    return int(ts)


# --- §1.3 robot HTTP callback --------------------------------------------------------------


def robot_sign(timestamp: str, app_secret: str) -> str:
    """``base64(HMAC-SHA256(appSecret, timestamp + "\\n" + appSecret))``, timestamp as sent."""
    return _hmac_b64(app_secret, f"{timestamp}\n{app_secret}")


def verify_robot_sign(
    timestamp: str,
    sign: str,
    app_secret: str,
    *,
    tolerance_s: float = 3600,
    clock: Clock = time.time,
) -> None:
    """Raise SignatureError unless ``sign`` matches and ``timestamp`` (ms) is within tolerance."""
    if not timestamp or not sign:
        raise SignatureError("missing timestamp or sign header")
    ts_ms = _parse_ms(timestamp)
    if abs(clock() * 1000 - ts_ms) > tolerance_s * 1000:
        raise SignatureError("timestamp outside the accepted window")
    expected = robot_sign(timestamp, app_secret)
    if not hmac.compare_digest(expected.encode("ascii"), sign.strip().encode("utf-8")):
        raise SignatureError("sign mismatch")


def custom_robot_sign(timestamp: str, secret: str) -> str:
    """§5.4 custom (webhook) robot: the same HMAC, URL-encoded for the query string."""
    return urllib.parse.quote_plus(robot_sign(timestamp, secret))


def custom_robot_url(base: str, access_token: str, timestamp: str, secret: str) -> str:
    sign = custom_robot_sign(timestamp, secret)
    return f"{base}/robot/send?access_token={access_token}&timestamp={timestamp}&sign={sign}"


# --- §6.4 card callback ---------------------------------------------------------------------


def card_signature(timestamp: str, api_secret: str) -> str:
    """``base64(HMAC-SHA256(apiSecret, timestamp))`` — the reading the spec documents."""
    return _hmac_b64(api_secret, timestamp)


def _card_signature_candidates(timestamp: str, api_secret: str) -> Iterable[str]:
    yield card_signature(timestamp, api_secret)
    # ⚠ the spec marks the card signature as weakly documented; also accept the robot-style
    # message (timestamp + "\n" + secret) so a tenant signing that way is not locked out.
    yield robot_sign(timestamp, api_secret)


def _card_ts_seconds(ts: int) -> float:
    # ⚠ unit undocumented (ms assumed): 13-digit values are ms, 10-digit values are seconds.
    return ts / 1000 if ts >= 10**11 else float(ts)


def verify_card_signature(
    timestamp: str,
    signature: str,
    api_secret: str,
    *,
    tolerance_s: float = 3600,
    clock: Clock = time.time,
) -> None:
    """Raise SignatureError unless the ``x-ddpaas-signature`` header is genuine and fresh."""
    if not timestamp or not signature:
        raise SignatureError("missing card signature headers")
    ts = _parse_ms(timestamp)
    if abs(clock() - _card_ts_seconds(ts)) > tolerance_s:
        raise SignatureError("card timestamp outside the accepted window")
    given = signature.strip().encode("utf-8")
    ok = False
    for candidate in _card_signature_candidates(timestamp, api_secret):
        ok |= hmac.compare_digest(candidate.encode("ascii"), given)
    if not ok:
        raise SignatureError("card signature mismatch")


# --- §3 encrypted event subscription ---------------------------------------------------------

_NONCE_ALPHABET = string.ascii_letters + string.digits


def random_nonce(length: int = 16) -> str:
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(length))


def event_signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    """``sha1_hex(join(sorted([token, timestamp, nonce, encrypt])))`` (§3.2)."""
    joined = "".join(sorted([token, timestamp, nonce, encrypted]))
    return hashlib.sha1(joined.encode("utf-8")).hexdigest()


class EventCrypto:
    """DingCallbackCrypto: verify, decrypt and answer one event subscription.

    ``owner_key`` is the app key for console-configured subscriptions; ``extra_owner_keys``
    lets a deployment also accept the corpId reading of §3.2 (⚠ open question 2).
    """

    def __init__(
        self,
        token: str,
        aes_key: str,
        owner_key: str,
        *,
        extra_owner_keys: Iterable[str] = (),
        random_bytes: Callable[[int], bytes] = os.urandom,
        nonce_factory: Callable[[], str] = random_nonce,
        clock: Clock = time.time,
    ) -> None:
        from bot.tencent_crypto import TencentCrypto  # written by the WeCom side, shared

        if len(aes_key) != 43:
            raise ValueError("event aes key must be 43 characters")
        self._token = token
        self._owner_keys = frozenset({owner_key, *extra_owner_keys})
        self._nonce_factory = nonce_factory
        self._clock = clock
        self._tc: TencentCrypto = TencentCrypto(
            token, aes_key, owner_key, random_bytes=random_bytes
        )

    def signature(self, timestamp: str, nonce: str, encrypted: str) -> str:
        return event_signature(self._token, timestamp, nonce, encrypted)

    def verify(self, signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        if not (signature and timestamp and nonce and encrypted):
            raise SignatureError("missing event signature parameters")
        expected = self.signature(timestamp, nonce, encrypted)
        if not hmac.compare_digest(expected.encode("ascii"), signature.strip().lower().encode()):
            raise SignatureError("event signature mismatch")

    def decrypt(self, encrypted: str) -> bytes:
        """Plaintext bytes; raises SignatureError for garbage or a foreign owner key."""
        from bot.tencent_crypto import CryptoError

        # §3.6: the official Python sample wraps base64 every 76 chars; tolerate line breaks
        # here (after the signature, which covers the string as sent) instead of in the
        # shared envelope, whose WeCom callers must stay strict.
        compact = "".join(encrypted.split())
        try:
            plaintext, owner = self._tc.decrypt_with_receive_id(compact)
        except (CryptoError, ValueError, TypeError) as exc:
            raise SignatureError("event payload cannot be decrypted") from exc
        if not any(hmac.compare_digest(owner.encode(), k.encode()) for k in self._owner_keys):
            raise SignatureError("event owner key mismatch")
        return plaintext

    def encrypt(self, plaintext: bytes | str) -> str:
        return self._tc.encrypt(plaintext)

    def reply(
        self, plaintext: str = "success", *, timestamp: str | None = None, nonce: str | None = None
    ) -> dict[str, str]:
        """The mandatory §3.3 answer: ``msg_signature``, ``timeStamp``, ``nonce``, ``encrypt``."""
        ts = timestamp if timestamp is not None else str(int(self._clock() * 1000))
        nc = nonce if nonce is not None else self._nonce_factory()
        encrypted = self.encrypt(plaintext)
        return {
            "msg_signature": self.signature(ts, nc, encrypted),
            "timeStamp": ts,
            "nonce": nc,
            "encrypt": encrypted,
        }

    def reply_json(self, plaintext: str = "success") -> bytes:
        return json.dumps(self.reply(plaintext), separators=(",", ":")).encode("utf-8")
