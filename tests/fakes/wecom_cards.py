"""template_card checks for the fake WeCom server, re-derived from reference/wecom.md §5.5.

Written independently of bot/wecom/render.py. Returns a problem description, or "" when the
card is acceptable. Requiring ``task_id`` on interactive cards is our reading of §5.5 ("always set
it"); §5.5 gives no length limits for display texts, so none are checked here.
"""

from __future__ import annotations

import re
from typing import Any

CARD_TYPES = {
    "text_notice",
    "news_notice",
    "button_interaction",
    "vote_interaction",
    "multiple_interaction",
}
TASK_ID = re.compile(r"^[0-9a-zA-Z_@-]+$")


def _nbytes(value: Any) -> int:
    return len(str(value).encode("utf-8"))


def _list(card: dict[str, Any], name: str, lo: int, hi: int) -> str:
    value = card.get(name)
    if value is None:
        return f"{name} missing" if lo else ""
    if not isinstance(value, list):
        return f"{name} must be a list"
    if not lo <= len(value) <= hi:
        return f"{name} must have {lo}..{hi} items"
    if not all(isinstance(v, dict) for v in value):
        return f"{name} items must be objects"
    return ""


def _card_action(card: dict[str, Any]) -> str:
    action = card.get("card_action")
    if not isinstance(action, dict):
        return "card_action required"
    if action.get("type") == 1 and not action.get("url"):
        return "card_action.url required"
    if action.get("type") == 2 and not action.get("appid"):
        return "card_action.appid required"
    if action.get("type") not in (1, 2):
        return "card_action.type must be 1 or 2"
    return ""


def _buttons(card: dict[str, Any]) -> str:
    problem = _list(card, "button_list", 1, 6)
    if problem:
        return problem
    keys: list[str] = []
    for b in card["button_list"]:
        if not b.get("text"):
            return "button text required"
        if "style" in b and b["style"] not in (1, 2, 3, 4):
            return "button style must be 1..4"
        if b.get("type", 0) == 0:
            key = b.get("key")
            if not key:
                return "callback button key required"
            if _nbytes(key) > 1024:
                return "button key longer than 1024 bytes"
            keys.append(key)
        elif b.get("type") == 1 and not b.get("url"):
            return "url button needs url"
    if len(keys) != len(set(keys)):
        return "button keys must be unique"
    return ""


def validate_template_card(card: Any) -> str:
    if not isinstance(card, dict):
        return "template_card must be an object"
    ctype = card.get("card_type")
    if ctype not in CARD_TYPES:
        return "invalid card_type"
    task_id = card.get("task_id")
    if task_id is not None and (
        not isinstance(task_id, str) or not TASK_ID.match(task_id) or _nbytes(task_id) > 128
    ):
        return "invalid task_id"
    if ctype != "text_notice" and ctype != "news_notice" and not task_id:
        return "task_id required for interactive cards"
    for name, hi in (("horizontal_content_list", 6), ("jump_list", 3)):
        problem = _list(card, name, 0, hi)
        if problem:
            return problem
    menu = card.get("action_menu")
    if menu is not None:
        if not task_id:
            return "action_menu needs task_id"
        actions = menu.get("action_list") if isinstance(menu, dict) else None
        if not isinstance(actions, list) or not 1 <= len(actions) <= 3:
            return "action_menu.action_list must have 1..3 items"
        if any(_nbytes(a.get("key", "")) > 1024 for a in actions):
            return "action key longer than 1024 bytes"
    main = card.get("main_title")
    if main is not None and not isinstance(main, dict):
        return "main_title must be an object"
    if ctype == "text_notice":
        if not ((main or {}).get("title") or card.get("sub_title_text")):
            return "text_notice needs main_title.title or sub_title_text"
        return _card_action(card)
    if ctype == "news_notice":
        if not (card.get("card_image") or card.get("image_text_area")):
            return "news_notice needs card_image or image_text_area"
        return _list(card, "vertical_content_list", 0, 4) or _card_action(card)
    if ctype == "button_interaction":
        if "card_action" in card:
            problem = _card_action(card)
            if problem:
                return problem
        return _buttons(card)
    submit = card.get("submit_button")
    if not isinstance(submit, dict) or not submit.get("key") or _nbytes(submit["key"]) > 1024:
        return "submit_button with a key of at most 1024 bytes required"
    return ""
