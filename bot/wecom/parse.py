"""Decrypted WeCom callback XML → neutral ChatMessage / CardAction (reference/wecom.md §3, §4).

Unknown message types and events become ``ChatMessage(kind=unknown|event)``, never an error.
Dedupe keys (§4), prefixed so that they cannot collide across types:

- ``wecom:msg:<MsgId>`` for normal messages;
- ``wecom:card:<sha256(user, EventKey, TaskId, ResponseCode)>`` for card clicks;
- ``wecom:event:<sha256(decrypted XML)>`` for other events (and messages without MsgId).
"""

from __future__ import annotations

import hashlib
import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from bot.inbound import CardAction, ChatMessage, Location, Media, MessageKind
from bot.wecom.crypto import safe_fromstring
from core.inputs import ascii_int

PLATFORM = "wecom"
CARD_EVENTS = frozenset({"template_card_event", "template_card_menu_event"})
# A fresh card sent when an old one could not be updated gets task_id "<key>@r<hex>" (adapter).
_EVENT_EXTRAS = ("EventKey", "ChangeType", "OpenKfId", "Token")
_RESEND_SUFFIX = re.compile(r"@r[0-9a-f]+$")


def _fields(root: ET.Element) -> dict[str, str]:
    return {child.tag: (child.text or "").strip() for child in root if len(child) == 0}


def _int(value: str) -> int | None:
    return ascii_int(value, hi=2**63 - 1)  # ASCII digits only: "²".isdigit() is true


def _float(value: str) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _sha256(data: bytes | str) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()


def _selected(root: ET.Element) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in root.iterfind("SelectedItems/SelectedItem"):
        question = (item.findtext("QuestionKey") or "").strip()
        options = [(o.text or "").strip() for o in item.iterfind("OptionIds/OptionId")]
        if question:
            out[question] = options
    return out


def card_key_from_task_id(task_id: str) -> str:
    return _RESEND_SUFFIX.sub("", task_id)


def _card_action(root: ET.Element, f: dict[str, str]) -> CardAction:
    user = f.get("FromUserName", "")
    event_key = f.get("EventKey", "")
    task_id = f.get("TaskId", "")
    response_code = f.get("ResponseCode", "")
    digest = _sha256(json.dumps([user, event_key, task_id, response_code], ensure_ascii=False))
    return CardAction(
        platform=PLATFORM,
        dedupe_key=f"wecom:card:{digest}",
        user_id=user,
        card_key=card_key_from_task_id(task_id),
        action=event_key,
        response_code=response_code,
        card_type=f.get("CardType", ""),
        selected=_selected(root),
        sent_at=_int(f.get("CreateTime", "")),
        extra={"event": f.get("Event", ""), "task_id": task_id, "agent_id": f.get("AgentID", "")},
    )


def _message(root: ET.Element, f: dict[str, str], xml: bytes) -> ChatMessage:
    msg_type = f.get("MsgType", "").lower()
    msg_id = f.get("MsgId", "")
    dedupe = f"wecom:msg:{msg_id}" if msg_id else f"wecom:event:{_sha256(xml)}"
    base: dict[str, Any] = {
        "platform": PLATFORM,
        "dedupe_key": dedupe,
        "user_id": f.get("FromUserName", ""),
        "sent_at": _int(f.get("CreateTime", "")),
    }
    extra: dict[str, Any] = {"msg_type": msg_type, "agent_id": f.get("AgentID", "")}
    if msg_id:
        extra["msg_id"] = msg_id
    media_id = f.get("MediaId", "")

    if msg_type == "text":
        return ChatMessage(**base, kind=MessageKind.TEXT, text=f.get("Content", ""), extra=extra)
    if msg_type == "image" and media_id:
        media = Media(kind="image", media_id=media_id, url=f.get("PicUrl", ""))
        return ChatMessage(**base, kind=MessageKind.IMAGE, media=(media,), extra=extra)
    if msg_type == "voice" and media_id:
        extra["format"] = f.get("Format", "")
        media = Media(kind="voice", media_id=media_id)
        text = f.get("Recognition", "")
        return ChatMessage(**base, kind=MessageKind.VOICE, text=text, media=(media,), extra=extra)
    if msg_type in ("file", "video") and media_id:
        name = f.get("FileName") or f.get("Title") or ""
        media = Media(kind="file", media_id=media_id, name=name)
        return ChatMessage(**base, kind=MessageKind.FILE, media=(media,), extra=extra)
    if msg_type == "location":
        lat, lon = _float(f.get("Location_X", "")), _float(f.get("Location_Y", ""))
        if lat is not None and lon is not None:
            loc = Location(
                latitude=lat,
                longitude=lon,
                label=f.get("Label", ""),
                scale=_int(f.get("Scale", "")),
            )
            return ChatMessage(**base, kind=MessageKind.LOCATION, location=loc, extra=extra)
    if msg_type == "event":
        event = f.get("Event", "").lower()
        extra.update({k: v for k, v in f.items() if k in _EVENT_EXTRAS})
        return ChatMessage(**base, kind=MessageKind.EVENT, event=event, extra=extra)
    extra["fields"] = {k: v for k, v in f.items() if k not in ("ToUserName", "Encrypt")}
    return ChatMessage(**base, kind=MessageKind.UNKNOWN, extra=extra)


def parse_message(xml: bytes) -> ChatMessage | CardAction:
    """Parse one decrypted callback. Raises bot.tencent_crypto.XmlError for unparseable XML."""
    root = safe_fromstring(xml)
    f = _fields(root)
    if f.get("MsgType", "").lower() == "event" and f.get("Event", "") in CARD_EVENTS:
        return _card_action(root, f)
    return _message(root, f, xml)
