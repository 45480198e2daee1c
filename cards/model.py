"""Platform-neutral cards: what the core wants shown, with no platform words and no I/O."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class ButtonStyle(StrEnum):
    PRIMARY = "primary"
    DEFAULT = "default"
    DANGER = "danger"


class Button(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str  # fixed texts from CONTRACT §7, e.g. 接单 / 拒单
    action: str  # signed ActionRef string (cards/actions.py); travels back in the click
    style: ButtonStyle = ButtonStyle.DEFAULT


class Field(BaseModel):
    model_config = ConfigDict(frozen=True)

    label: str
    value: str
    url: str = ""  # optional link (a knowledge article page)


class Card(BaseModel):
    """One interactive card.

    ``key`` is deterministic (e.g. ``t42_assign``) and becomes the WeCom ``task_id`` or the
    DingTalk ``outTrackId``; only ``[0-9a-zA-Z_\\-@]`` and at most 128 bytes.
    A card whose ``buttons`` are empty and whose ``status`` is set is a finished card: renderers
    show the status instead of buttons (who did what).
    """

    model_config = ConfigDict(frozen=True)

    key: str
    title: str
    summary: str = ""  # one or two lines under the title
    fields: tuple[Field, ...] = ()
    buttons: tuple[Button, ...] = ()
    status: str = ""  # e.g. "张伟 已接单 11-29 10:02"; shown when the card is finished
    url: str = ""  # optional link to the ticket page
    url_text: str = ""  # the link's label where a platform shows one (default: 查看工单)
    source: str = "chatdesk 工单"  # small header line
