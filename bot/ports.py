"""The two ports every platform adapter implements, and the only errors they may raise."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from bot.inbound import CardAction, ChatMessage, UrlChallenge
from cards.model import Card


class PlatformError(Exception):
    """Base of what a ChatPlatform may raise."""

    def __init__(self, message: str, *, code: int | str | None = None) -> None:
        super().__init__(message)
        self.code = code


class Retryable(PlatformError):
    """Try again later (rate limit, 5xx, timeout, busy). ``retry_after`` is a hint in seconds."""

    def __init__(
        self, message: str, *, code: int | str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class Permanent(PlatformError):
    """Will never succeed as sent (bad user id, card rejected, no permission): dead-letter it."""


class AuthExpired(PlatformError):
    """The token was refused even after one refresh; retry later (credentials may be rotating)."""


class Target(BaseModel):
    """Where a message goes: one person, or one group conversation."""

    model_config = ConfigDict(frozen=True)

    platform: str
    user_id: str = ""
    conversation_id: str = ""  # group chat id; empty for a 1:1 message


class Receipt(BaseModel):
    """What a send returned; kept with the card so that it can be updated later."""

    model_config = ConfigDict(frozen=True)

    platform: str
    target: Target
    card_key: str = ""
    message_id: str = ""
    response_code: str = ""  # WeCom: latest unused ResponseCode of a click on this card
    extra: dict[str, Any] = Field(default_factory=dict)


class ChatPlatform(Protocol):
    """Outbound port. Implementations raise only Retryable, Permanent or AuthExpired."""

    name: str

    async def send_text(self, target: Target, text: str) -> Receipt: ...

    async def send_card(self, target: Target, card: Card) -> Receipt: ...

    async def update_card(self, receipt: Receipt, card: Card) -> Receipt: ...


class RawRequest(BaseModel):
    """An HTTP request as the webhook received it, before any trust is given to it."""

    model_config = ConfigDict(frozen=True)

    method: Literal["GET", "POST"]
    query: Mapping[str, str] = Field(default_factory=dict)
    headers: Mapping[str, str] = Field(default_factory=dict)  # lower-cased names
    body: bytes = b""


class InboundRejected(Exception):
    """The request must be refused with a 4xx. ``reason`` is logged (never secrets)."""

    def __init__(self, reason: str, *, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class InboundDecoder(Protocol):
    """Inbound port: verify, then decode; raises InboundRejected for anything untrusted."""

    name: str

    def decode(self, raw: RawRequest) -> list[ChatMessage | CardAction] | UrlChallenge: ...

    def ack_body(self, raw: RawRequest) -> tuple[bytes, str]:
        """Body and content type to answer once the inbound rows are committed."""
        ...
