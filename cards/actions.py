"""ActionRef: the versioned, signed, typed payload every card button carries.

Encoded as ``v1.<kind>.<ticket>.<card key>.<arg>.<signature>`` (ASCII, at most ~200 bytes) so it
fits a WeCom button key and a DingTalk action id. The signature is an HMAC-SHA256 (truncated
to 128 bits) over everything before it, so a forged or altered click is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import StrEnum

VERSION = "v1"
_SAFE = re.compile(r"^[0-9A-Za-z_\-@]*$")


class ActionKind(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    APPROVE = "approve"
    REJECT = "reject"
    CONFIRM = "confirm"
    REOPEN = "reopen"
    RATE = "rate"


class BadAction(ValueError):
    """The payload is not an ActionRef we signed."""


@dataclass(frozen=True)
class ActionRef:
    kind: ActionKind
    ticket_id: int
    card_key: str
    arg: str = ""  # e.g. the score of a rating button, a requisition id

    def encode(self, secret: bytes) -> str:
        for part in (self.card_key, self.arg):
            if not _SAFE.match(part) or len(part) > 128:
                raise ValueError(f"unsafe ActionRef part: {part!r}")
        body = f"{VERSION}.{self.kind.value}.{self.ticket_id}.{self.card_key}.{self.arg}"
        return f"{body}.{_sign(secret, body)}"

    @classmethod
    def decode(cls, payload: str, secret: bytes) -> ActionRef:
        parts = payload.split(".")
        if len(parts) != 6 or parts[0] != VERSION:
            raise BadAction("not a chatdesk action")
        body, signature = payload.rsplit(".", 1)
        if not hmac.compare_digest(_sign(secret, body), signature):
            raise BadAction("bad action signature")
        _, kind, ticket, card_key, arg, _ = parts
        try:
            return cls(ActionKind(kind), int(ticket), card_key, arg)
        except ValueError:
            raise BadAction("malformed action") from None


def _sign(secret: bytes, body: str) -> str:
    return hmac.new(secret, body.encode("ascii", "replace"), hashlib.sha256).hexdigest()[:32]
