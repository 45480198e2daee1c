"""The Tencent callback envelope shared by WeCom and DingTalk (WXBizMsgCrypt).

AES-256-CBC with IV = key[:16]; plaintext = 16 random bytes || 4-byte big-endian length ||
message || receive id, PKCS#7-padded to a multiple of **32** bytes (pad value 1..32, so a stock
16-byte unpadder would reject real traffic); signature = sha1 hex of the four sorted strings.
See reference/wecom.md §2 and reference/dingtalk.md §3.2.

Errors carry the official WXBizMsgCrypt codes as ``.code`` and never include key material.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import struct
from collections.abc import Callable
from typing import Any

from Crypto.Cipher import AES

BLOCK_SIZE = 32  # the envelope's PKCS#7 block, not AES's 16
_RANDOM_LEN = 16
_KEY_RE = re.compile(r"[A-Za-z0-9+/]{43}")

# Official WXBizMsgCrypt error codes (ierror.py).
OK = 0
VALIDATE_SIGNATURE_ERROR = -40001
PARSE_XML_ERROR = -40002
COMPUTE_SIGNATURE_ERROR = -40003
ILLEGAL_AES_KEY = -40004
VALIDATE_RECEIVE_ID_ERROR = -40005
ENCRYPT_AES_ERROR = -40006
DECRYPT_AES_ERROR = -40007
ILLEGAL_BUFFER = -40008
ENCODE_BASE64_ERROR = -40009
DECODE_BASE64_ERROR = -40010
GEN_RETURN_XML_ERROR = -40011


class CryptoError(Exception):
    """A failed envelope operation; ``code`` is the official WXBizMsgCrypt code."""

    code: int = ILLEGAL_BUFFER

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class SignatureError(CryptoError):
    code = VALIDATE_SIGNATURE_ERROR


class XmlError(CryptoError):
    code = PARSE_XML_ERROR


class AesKeyError(CryptoError):
    code = ILLEGAL_AES_KEY


class ReceiveIdError(CryptoError):
    code = VALIDATE_RECEIVE_ID_ERROR


class EncryptError(CryptoError):
    code = ENCRYPT_AES_ERROR


class DecryptError(CryptoError):
    code = DECRYPT_AES_ERROR


class IllegalBufferError(CryptoError):
    """Bad padding, bad length field or a ciphertext of impossible size."""

    code = ILLEGAL_BUFFER


class Base64Error(CryptoError):
    code = DECODE_BASE64_ERROR


class ReplyBuildError(CryptoError):
    code = GEN_RETURN_XML_ERROR


def aes_key_setting(value: Any) -> Any:
    """A config field (a SecretStr) holding an EncodingAESKey, checked exactly as the crypto
    checks it when ``serve`` starts, so that ``check-config`` reports it first."""
    try:
        decode_aes_key(value.get_secret_value())
    except CryptoError as exc:
        raise ValueError(f"{exc}（请从控制台复制完整的 43 位 EncodingAESKey）") from None
    return value


def decode_aes_key(encoding_aes_key: str) -> bytes:
    """43 base64 characters → 32-byte key. Trailing bits of the 43rd char are ignored
    (real keys, including official samples, have them set)."""
    if not isinstance(encoding_aes_key, str) or not _KEY_RE.fullmatch(encoding_aes_key):
        raise AesKeyError("EncodingAESKey must be 43 base64 characters")
    try:
        key = base64.b64decode(encoding_aes_key + "=")
    except (binascii.Error, ValueError) as exc:
        raise AesKeyError("EncodingAESKey is not valid base64") from exc
    if len(key) != 32:
        raise AesKeyError("EncodingAESKey does not decode to 32 bytes")
    return key


def _to_bytes(value: bytes | str) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


class TencentCrypto:
    """Encrypt, decrypt and sign callback envelopes for one (token, key, receive id)."""

    def __init__(
        self,
        token: str,
        encoding_aes_key: str,
        receive_id: str,
        *,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self._token = token
        self._key = decode_aes_key(encoding_aes_key)
        self._iv = self._key[:16]
        self._receive_id = receive_id.encode("utf-8")
        self._random_bytes = random_bytes

    # -- signatures -------------------------------------------------------------------------

    def signature(self, timestamp: str, nonce: str, encrypted: str) -> str:
        parts = sorted([self._token, str(timestamp), str(nonce), encrypted])
        try:
            return hashlib.sha1("".join(parts).encode("utf-8")).hexdigest()
        except (UnicodeError, TypeError) as exc:  # pragma: no cover - defensive
            raise CryptoError("cannot compute signature", code=COMPUTE_SIGNATURE_ERROR) from exc

    def verify_signature(self, signature: str, timestamp: str, nonce: str, encrypted: str) -> bool:
        if not isinstance(signature, str):
            return False
        expected = self.signature(timestamp, nonce, encrypted).encode("ascii")
        return hmac.compare_digest(expected, signature.strip().lower().encode("utf-8"))

    # -- encryption -------------------------------------------------------------------------

    def encrypt(self, plaintext: bytes | str) -> str:
        msg = _to_bytes(plaintext)
        prefix = self._random_bytes(_RANDOM_LEN)
        if len(prefix) != _RANDOM_LEN:
            raise EncryptError("random prefix must be 16 bytes")
        plain = prefix + struct.pack(">I", len(msg)) + msg + self._receive_id
        pad = BLOCK_SIZE - len(plain) % BLOCK_SIZE
        plain += bytes([pad]) * pad
        try:
            cipher = AES.new(self._key, AES.MODE_CBC, self._iv).encrypt(plain)
        except ValueError as exc:  # pragma: no cover - lengths are correct by construction
            raise EncryptError("AES encryption failed") from exc
        return base64.b64encode(cipher).decode("ascii")

    def decrypt_with_receive_id(self, encrypted_b64: str) -> tuple[bytes, str]:
        """Decrypt without checking the receive id; returns (message, receive id)."""
        cipher = self._b64decode(encrypted_b64)
        if not cipher or len(cipher) % BLOCK_SIZE:
            raise IllegalBufferError("ciphertext length is not a multiple of 32 bytes")
        try:
            plain = AES.new(self._key, AES.MODE_CBC, self._iv).decrypt(cipher)
        except ValueError as exc:  # pragma: no cover - length checked above
            raise DecryptError("AES decryption failed") from exc
        pad = plain[-1]
        if not 1 <= pad <= BLOCK_SIZE:
            raise IllegalBufferError("bad padding")
        if not hmac.compare_digest(plain[-pad:], bytes([pad]) * pad):
            raise IllegalBufferError("bad padding")
        body = plain[:-pad]
        if len(body) < _RANDOM_LEN + 4:
            raise IllegalBufferError("plaintext too short")
        (length,) = struct.unpack(">I", body[_RANDOM_LEN : _RANDOM_LEN + 4])
        start = _RANDOM_LEN + 4
        if start + length > len(body):
            raise IllegalBufferError("length field exceeds plaintext")
        msg = body[start : start + length]
        try:
            receive_id = body[start + length :].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise IllegalBufferError("receive id is not UTF-8") from exc
        return msg, receive_id

    def decrypt(self, encrypted_b64: str, *, check_receive_id: bool = True) -> bytes:
        msg, receive_id = self.decrypt_with_receive_id(encrypted_b64)
        if check_receive_id and not hmac.compare_digest(
            receive_id.encode("utf-8"), self._receive_id
        ):
            raise ReceiveIdError("receive id does not match")
        return msg

    @staticmethod
    def _b64decode(encrypted_b64: str) -> bytes:
        if not isinstance(encrypted_b64, str | bytes):
            raise Base64Error("ciphertext must be a base64 string")
        try:
            return base64.b64decode(encrypted_b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise Base64Error("ciphertext is not valid base64") from exc
