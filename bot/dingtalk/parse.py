"""DingTalk payloads -> neutral inbound types (reference/dingtalk.md §1.2, §3.4, §6.4).

Pure functions over already-verified JSON. Anything structurally wrong raises ``ParseError``;
the adapter turns that into a 400.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from bot.inbound import CardAction, ChatMessage, Media, MessageKind, UrlChallenge

PLATFORM = "dingtalk"


class ParseError(ValueError):
    """The payload is not a DingTalk object of the expected shape."""


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _ms_to_s(value: Any) -> int | None:
    # createAt is a number in samples and a string in the doc table (⚠ accept both)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value) // 1000 if math.isfinite(value) else None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value) // 1000
    return None


def loads_object(body: bytes | str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ParseError("body is not JSON") from exc
    if not isinstance(data, dict):
        raise ParseError("body is not a JSON object")
    return data


# --- robot messages (§1.2) ------------------------------------------------------------------


def _mentioned(body: dict[str, Any]) -> bool:
    if body.get("isInAtList") is True:
        return True
    robot = _str(body.get("chatbotUserId"))
    at_users = body.get("atUsers")
    if robot and isinstance(at_users, list):
        return any(isinstance(u, dict) and u.get("dingtalkId") == robot for u in at_users)
    return False


def _download_code(content: dict[str, Any]) -> str:
    return _str(content.get("downloadCode")) or _str(content.get("pictureDownloadCode"))


def _rich_text(content: dict[str, Any]) -> tuple[str, tuple[Media, ...]]:
    parts: list[str] = []
    media: list[Media] = []
    items = content.get("richText")
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "picture" or "downloadCode" in item:
            code = _download_code(item)
            if code:
                media.append(Media(kind="image", media_id=code))
        elif "text" in item:
            parts.append(_str(item.get("text")))
    return "".join(parts).strip(), tuple(media)


def _content(body: dict[str, Any]) -> dict[str, Any] | None:
    content = body.get("content")
    if isinstance(content, str):  # some transports wrap content as a JSON string
        try:
            content = json.loads(content)
        except (ValueError, RecursionError):
            return None
    return content if isinstance(content, dict) else None


def _robot_kind(
    body: dict[str, Any],
) -> tuple[MessageKind, str, tuple[Media, ...], dict[str, Any]]:
    msgtype = _str(body.get("msgtype"))
    if msgtype == "text":
        text = body.get("text")
        if isinstance(text, dict) and isinstance(text.get("content"), str):
            return MessageKind.TEXT, text["content"].strip(), (), {}
        return MessageKind.EMPTY, "", (), {}
    content = _content(body)
    if content is None:
        return MessageKind.EMPTY, "", (), {}
    if msgtype == "richText":
        text, media = _rich_text(content)
        if text:
            return MessageKind.TEXT, text, media, {}
        return (MessageKind.IMAGE if media else MessageKind.EMPTY), "", media, {}
    code = _download_code(content)
    if msgtype == "picture":
        return MessageKind.IMAGE, "", (Media(kind="image", media_id=code),) if code else (), {}
    if msgtype == "audio":
        media = (Media(kind="voice", media_id=code),) if code else ()
        extra = {"duration": content["duration"]} if "duration" in content else {}
        return MessageKind.VOICE, _str(content.get("recognition")).strip(), media, extra
    if msgtype in ("file", "video"):
        name = _str(content.get("fileName"))
        media = (Media(kind="file", media_id=code, name=name),) if code else ()
        extra = {"msgtype": msgtype} if msgtype == "video" else {}
        return MessageKind.FILE, "", media, extra
    return MessageKind.UNKNOWN, "", (), {"msgtype": msgtype}


_KEEP = (
    "sessionWebhook",
    "sessionWebhookExpiredTime",
    "senderUnionId",
    "senderCorpId",
    "robotCode",
    "isAdmin",
    "conversationTitle",
)


def parse_robot_message(body: dict[str, Any]) -> list[ChatMessage]:
    """One robot callback -> [] (a group message not addressed to us) or one ChatMessage."""
    msg_id = _str(body.get("msgId"))
    if not msg_id:
        raise ParseError("robot message without msgId")
    user_id = _str(body.get("senderStaffId")) or _str(body.get("senderId"))
    if not user_id:
        raise ParseError("robot message without sender")
    group = str(body.get("conversationType", "1")) == "2"
    if group and not _mentioned(body):
        return []
    kind, text, media, extra = _robot_kind(body)
    if kind is MessageKind.EMPTY:
        error = body.get("errorMessage") or body.get("errMsg") or body.get("errorCode")
        if error:
            extra["error"] = str(error)
    extra.update({k: body[k] for k in _KEEP if k in body})
    return [
        ChatMessage(
            platform=PLATFORM,
            dedupe_key=f"dingtalk:msg:{msg_id}",
            user_id=user_id,
            user_name=_str(body.get("senderNick")),
            conversation_id=_str(body.get("conversationId")),
            conversation_type="group" if group else "single",
            kind=kind,
            text=text,
            media=media,
            sent_at=_ms_to_s(body.get("createAt")),
            extra=extra,
        )
    ]


# --- events (§3.4) --------------------------------------------------------------------------


def parse_event(plaintext: bytes) -> ChatMessage | UrlChallenge:
    """A decrypted event body; ``check_url`` becomes a challenge answered with ``success``."""
    data = loads_object(plaintext)
    event_type = _str(data.get("EventType")) or _str(data.get("eventType"))
    if not event_type:
        raise ParseError("event without EventType")
    if event_type == "check_url":
        return UrlChallenge(platform=PLATFORM, echo="success")
    event_id = _str(data.get("EventId")) or _str(data.get("eventId"))
    key = event_id or hashlib.sha256(plaintext).hexdigest()
    return _event_message(event_type, key, data.get("TimeStamp"), data)


def _event_message(event_type: str, key: str, sent_ms: Any, data: dict[str, Any]) -> ChatMessage:
    user = data.get("UserId") or data.get("staffId") or data.get("userId") or ""
    if isinstance(user, list):
        user = user[0] if len(user) == 1 and isinstance(user[0], str) else ""
    return ChatMessage(
        platform=PLATFORM,
        dedupe_key=f"dingtalk:evt:{key}",
        user_id=_str(user),
        kind=MessageKind.EVENT,
        event=event_type,
        sent_at=_ms_to_s(sent_ms),
        extra={"event": data},
    )


def parse_stream_event(
    event_type: str, event_id: str, born_ms: Any, data: dict[str, Any]
) -> ChatMessage:
    """An event that came over the Stream connection: the type and id travel in the frame's
    headers, the body (camelCase keys) in its data (§2, §3.4). Same dedupe key as over HTTP."""
    if not event_type:
        raise ParseError("stream event without eventType")
    key = (
        event_id
        or hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    )
    return _event_message(
        event_type, key, born_ms, {"EventType": event_type, "EventId": event_id, **data}
    )


# --- card callbacks (§6.4) ------------------------------------------------------------------


def parse_card_callback(body: dict[str, Any]) -> CardAction:
    track_id = _str(body.get("outTrackId")) or _str(body.get("cardBizId"))
    user_id = _str(body.get("userId"))
    if not track_id or not user_id:
        raise ParseError("card callback without outTrackId or userId")
    raw = body.get("content")
    if raw is None:
        raw = body.get("value")  # ⚠ the official Java model also declares a `value` field
    try:
        content = json.loads(raw) if isinstance(raw, str) else raw
    except (ValueError, RecursionError) as exc:
        raise ParseError("card callback content is not JSON") from exc
    if not isinstance(content, dict):
        raise ParseError("card callback content is not an object")
    private = content.get("cardPrivateData")
    private = private if isinstance(private, dict) else {}
    params = private.get("params")
    params = params if isinstance(params, dict) else {}
    action_ids = private.get("actionIds")
    ids = [a for a in action_ids if isinstance(a, str)] if isinstance(action_ids, list) else []
    # The button payload travels as the `action` param (template cards) or as the clicked
    # component id (StandardCard buttons carry the payload in their id).
    action = _str(params.get("action")) or (ids[0] if ids else "")
    if not action:
        raise ParseError("card callback without an action")
    digest = hashlib.sha256("\x1f".join((track_id, user_id, action)).encode()).hexdigest()
    extra = {k: body[k] for k in ("corpId", "spaceType", "spaceId", "type") if k in body}
    if ids:
        extra["actionIds"] = ids
    return CardAction(
        platform=PLATFORM,
        dedupe_key=f"dingtalk:card:{digest}",
        user_id=user_id,
        card_key=track_id,
        action=action,
        params=params,
        extra=extra,
    )
