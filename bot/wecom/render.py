"""Neutral Card → WeCom ``template_card`` JSON (reference/wecom.md §5.5, §5.6).

- a card with buttons → ``button_interaction`` (button key = ``Button.action``);
- a card without buttons → ``text_notice`` (needs a ``card_action`` URL; the status is shown);
- ``task_id`` = ``Card.key`` unless the caller passes another one.

Hard limits come from §5.5 and are counted in **bytes** where the spec says so (task_id ≤128
bytes of ``[0-9a-zA-Z_-@]``, keys ≤1024 bytes, ≤6 buttons, ≤6 horizontal items); what cannot be
shortened without changing meaning (task ids, button keys, too many buttons) raises ValueError.
§5.5 gives no length limits for display texts; the ``*_CHARS`` values below are our own
conservative choice, counted in characters and cut with "…".
"""

from __future__ import annotations

import re
from typing import Any

from cards.model import Button, ButtonStyle, Card, Field

TASK_ID_RE = re.compile(r"[0-9A-Za-z_\-@]+")
MAX_TASK_ID_BYTES = 128
MAX_KEY_BYTES = 1024
MAX_BUTTONS = 6
MAX_HORIZONTAL = 6
MAX_TEXT_BYTES = 2048  # text / markdown content (§5.4)

SOURCE_CHARS = 20
TITLE_CHARS = 36
DESC_CHARS = 44
SUB_TITLE_CHARS = 160
KEYNAME_CHARS = 10
VALUE_CHARS = 30
BUTTON_TEXT_CHARS = 10
REPLACE_NAME_CHARS = 20

ELLIPSIS = "…"

BUTTON_STYLE = {ButtonStyle.PRIMARY: 1, ButtonStyle.DEFAULT: 2, ButtonStyle.DANGER: 3}


def truncate_chars(text: str, limit: int) -> str:
    """At most ``limit`` characters, the last one "…" when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + ELLIPSIS


def truncate_bytes(text: str, limit: int) -> str:
    """At most ``limit`` UTF-8 bytes, never splitting a character, ending in "…" when cut."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    room = limit - len(ELLIPSIS.encode("utf-8"))
    return data[: max(room, 0)].decode("utf-8", errors="ignore") + ELLIPSIS


def check_task_id(task_id: str) -> str:
    if not TASK_ID_RE.fullmatch(task_id or ""):
        raise ValueError(f"task_id {task_id!r} must match [0-9a-zA-Z_-@]+")
    if len(task_id.encode("utf-8")) > MAX_TASK_ID_BYTES:
        raise ValueError(f"task_id is longer than {MAX_TASK_ID_BYTES} bytes")
    return task_id


def _button(button: Button) -> dict[str, Any]:
    key = button.action
    if not key:
        raise ValueError("button action (WeCom key) must not be empty")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise ValueError(f"button key for {button.text!r} is longer than {MAX_KEY_BYTES} bytes")
    return {
        "type": 0,
        "text": truncate_chars(button.text, BUTTON_TEXT_CHARS),
        "style": BUTTON_STYLE.get(button.style, 2),
        "key": key,
    }


def _horizontal(field: Field) -> dict[str, Any]:
    item: dict[str, Any] = {
        "keyname": truncate_chars(field.label, KEYNAME_CHARS),
        "value": truncate_chars(field.value or "—", VALUE_CHARS),
    }
    if field.url:
        item = {"type": 1, **item, "url": field.url}  # a link (§5.5 horizontal_content_list)
    return item


def _sub_title(card: Card) -> str:
    lines = [f"{f.label}：{f.value}" for f in card.fields[MAX_HORIZONTAL:]]
    if card.status:
        lines.append(card.status)
    return truncate_chars("\n".join(lines), SUB_TITLE_CHARS)


def render_card(
    card: Card, *, task_id: str | None = None, fallback_url: str = ""
) -> dict[str, Any]:
    """The ``template_card`` object for ``message/send``."""
    tid = check_task_id(task_id if task_id is not None else card.key)
    if not card.title.strip():
        raise ValueError("card title must not be empty")
    if len(card.buttons) > MAX_BUTTONS:
        raise ValueError(f"WeCom cards take at most {MAX_BUTTONS} buttons, got {len(card.buttons)}")
    out: dict[str, Any] = {
        "card_type": "button_interaction" if card.buttons else "text_notice",
    }
    if card.source:
        out["source"] = {"desc": truncate_chars(card.source, SOURCE_CHARS)}
    main: dict[str, str] = {"title": truncate_chars(card.title, TITLE_CHARS)}
    if card.summary:
        main["desc"] = truncate_chars(card.summary, DESC_CHARS)
    out["main_title"] = main
    sub = _sub_title(card)
    if sub:
        out["sub_title_text"] = sub
    if card.fields:
        out["horizontal_content_list"] = [_horizontal(f) for f in card.fields[:MAX_HORIZONTAL]]
    url = card.url or fallback_url
    if url:
        out["card_action"] = {"type": 1, "url": url}
    elif not card.buttons:
        raise ValueError("a text_notice card needs a URL for its card_action")
    out["task_id"] = tid
    if card.buttons:
        keys = [b.action for b in card.buttons]
        if len(set(keys)) != len(keys):
            raise ValueError("button keys must be unique within a card")
        out["button_list"] = [_button(b) for b in card.buttons]
    return out


def render_update(
    card: Card, *, task_id: str | None = None, fallback_url: str = ""
) -> dict[str, Any]:
    """What goes into ``message/update_template_card`` besides recipients and response_code.

    A finished card (no buttons) greys its buttons out with the status as their new text
    (``button.replace_name``); any other card replaces the whole card.
    """
    if not card.buttons:
        label = card.status or "已处理"
        return {"button": {"replace_name": truncate_chars(label, REPLACE_NAME_CHARS)}}
    return {"template_card": render_card(card, task_id=task_id, fallback_url=fallback_url)}


def card_as_text(card: Card) -> str:
    """Plain-text form of a card, for when no card can be sent (e.g. no URL for text_notice)."""
    lines = [card.title]
    if card.summary:
        lines.append(card.summary)
    lines.extend(f"{f.label}：{f.value}" for f in card.fields)
    if card.status:
        lines.append(card.status)
    if card.url:
        lines.append(card.url)
    return truncate_bytes("\n".join(lines), MAX_TEXT_BYTES)
