"""Neutral inbound types: what any platform adapter turns its callbacks into.

They are frozen pydantic models so that the webhook can store them in the inbox as JSON and the
inbox worker can load them back without knowing which platform they came from.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class MessageKind(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    VOICE = "voice"
    FILE = "file"
    LOCATION = "location"
    EVENT = "event"  # enter_agent, subscribe, ... (see ChatMessage.event)
    EMPTY = "empty"  # the platform delivered no content (e.g. DingTalk quota exhausted)
    UNKNOWN = "unknown"  # stored, never an error; the worker ignores it


class Media(BaseModel):
    """A photo, voice or file the bot may download later through the platform client."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["image", "voice", "file"]
    media_id: str  # WeCom MediaId / DingTalk downloadCode
    url: str = ""  # WeCom PicUrl when present
    name: str = ""  # file name when the platform gives one


class Location(BaseModel):
    model_config = ConfigDict(frozen=True)

    latitude: float
    longitude: float
    label: str = ""
    scale: int | None = None


class ChatMessage(BaseModel):
    """One message or event from a person to the bot."""

    model_config = ConfigDict(frozen=True)

    type: Literal["message"] = "message"
    platform: str  # "wecom" | "dingtalk" | ...
    dedupe_key: str  # unique per platform; the inbox refuses a second row with it
    user_id: str  # the platform's user id (WeCom UserID, DingTalk senderStaffId / senderId)
    user_name: str = ""
    conversation_id: str = ""  # group or 1:1 conversation id when the platform gives one
    conversation_type: Literal["single", "group"] = "single"
    kind: MessageKind
    text: str = ""  # text, rich-text flattened, or voice recognition
    media: tuple[Media, ...] = ()
    location: Location | None = None
    event: str = ""  # for kind=event: enter_agent, subscribe, ...
    sent_at: int | None = None  # platform timestamp, seconds since the epoch
    extra: dict[str, Any] = Field(default_factory=dict)  # platform leftovers worth keeping


class CardAction(BaseModel):
    """A click on a button of one of our interactive cards."""

    model_config = ConfigDict(frozen=True)

    type: Literal["card_action"] = "card_action"
    platform: str
    dedupe_key: str
    user_id: str
    card_key: str  # WeCom TaskId / DingTalk outTrackId: the deterministic key we gave the card
    action: str  # the button's payload: a signed ActionRef string (cards/actions.py)
    response_code: str = ""  # WeCom ResponseCode: single-use, lets us update this card once
    card_type: str = ""
    selected: dict[str, Any] = Field(default_factory=dict)  # select / checkbox answers
    params: dict[str, Any] = Field(default_factory=dict)  # DingTalk callback params
    sent_at: int | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


Inbound = Annotated[ChatMessage | CardAction, Field(discriminator="type")]


class UrlChallenge(BaseModel):
    """A URL verification handshake; answered at once, never stored."""

    model_config = ConfigDict(frozen=True)

    platform: str
    echo: str
