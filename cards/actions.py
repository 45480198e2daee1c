"""ActionRef: the versioned, signed, typed payload every card button carries.

Encoded as ``v2.<kind>.<ticket>.<card key>.<arg>.<expires>.<signature>`` (ASCII, at most ~300
bytes) so it fits a WeCom button key and a DingTalk action id. The signature is an HMAC-SHA256
(truncated to 128 bits) over everything before it AND the recipient (``platform:user id``) the
card was sent to, which is not in the payload: a payload copied from one person's card does not
work for anyone else, and none works after ``expires`` (Unix seconds).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import StrEnum

VERSION = "v2"
TTL_S = 30 * 86400  # a button stays valid 30 days after its card was sent
_SAFE = re.compile(r"^[0-9A-Za-z_\-@]*$")
_DIGITS = re.compile(r"^[0-9]{1,12}$")


class ActionKind(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    APPROVE = "approve"
    REJECT = "reject"
    CONFIRM = "confirm"
    REOPEN = "reopen"
    RATE = "rate"
    KB_SOLVED = "kbsolved"  # 已解决 on the suggestions shown at intake (no ticket yet: id 0)
    KB_MORE = "kbmore"  # 仍需报修: go on with the intake
    KB_DRAFT = "kbdraft"  # 存为知识 on a resolved ticket's engineer card
    ACK = "ack"  # 知道了 on an SLA warning or breach card


class BadAction(ValueError):
    """The payload is not an ActionRef we signed for this person (or it has expired)."""


def recipient(platform: str, user_id: str) -> str:
    """Whom a button is bound to: the person the card was sent to, on that platform."""
    return f"{platform}:{user_id}"


@dataclass(frozen=True)
class Signer:
    """Signs the buttons of one card for one recipient until ``expires_at`` (Unix seconds)."""

    secret: bytes
    recipient: str
    expires_at: int


@dataclass(frozen=True)
class ActionRef:
    kind: ActionKind
    ticket_id: int
    card_key: str
    arg: str = ""  # e.g. the score of a rating button, a requisition id

    def encode(self, signer: Signer) -> str:
        for part in (self.card_key, self.arg):
            if not _SAFE.match(part) or len(part) > 128:
                raise ValueError(f"unsafe ActionRef part: {part!r}")
        body = (
            f"{VERSION}.{self.kind.value}.{self.ticket_id}.{self.card_key}.{self.arg}"
            f".{signer.expires_at}"
        )
        return f"{body}.{_sign(signer.secret, body, signer.recipient)}"

    @classmethod
    def decode(cls, payload: str, secret: bytes, *, recipient: str, now: float) -> ActionRef:
        """The ref, if ``payload`` was signed with ``secret`` for ``recipient`` and is unexpired.

        Any other input (another version, non-ASCII, another person's card) is a BadAction.
        """
        if not payload.isascii():
            raise BadAction("not a chatdesk action")
        parts = payload.split(".")
        if len(parts) != 7 or parts[0] != VERSION:
            raise BadAction("not a chatdesk action")
        body, signature = payload.rsplit(".", 1)
        expected = _sign(secret, body, recipient)
        if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii")):
            raise BadAction("bad action signature")
        _, kind, ticket, card_key, arg, expires, _ = parts
        if not _DIGITS.match(ticket) or not _DIGITS.match(expires):
            raise BadAction("malformed action")
        if int(expires) < now:
            raise BadAction("expired action")
        try:
            return cls(ActionKind(kind), int(ticket), card_key, arg)
        except ValueError:
            raise BadAction("malformed action") from None


def _sign(secret: bytes, body: str, recipient: str) -> str:
    message = f"{body}\n{recipient}".encode("utf-8", "replace")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]
