"""Neutral Card -> DingTalk interactive-card requests (reference/dingtalk.md §6).

Two ways to show a card, chosen by ``settings.card_template_id``:

* **StandardCard (default, no console work).** The robot card API
  ``POST /v1.0/im/v1.0/robot/interactiveCards/send`` takes ``cardTemplateId: "StandardCard"``
  and the whole card as JSON (``cardData``) that we build here: header, markdown blocks and
  ``actionType: "request"`` buttons whose component id is the button payload (§6.6). Updates go
  to ``PUT /v1.0/im/robots/interactiveCards`` by ``cardBizId`` (= card.key).
* **Console template.** With a template id, ``POST /v1.0/card/instances/createAndDeliver``
  fills the template's variables (``cardParamMap``) and updates go to
  ``PUT /v1.0/card/instances`` by ``outTrackId`` (= card.key) (§6.2, §6.3). The template must
  declare the string variables listed in ``template_params``; ``buttons`` is a JSON list of
  ``{"text", "action", "style"}`` meant for a loop of buttons with the "回传请求" action and a
  param ``action`` bound to the item's ``action``.

In both modes the buttons of a group card addressed to one person travel only in that
person's private data, so nobody else sees them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from bot.ports import Target
from cards.model import ButtonStyle, Card

STANDARD_TEMPLATE = "StandardCard"
DEFAULT_ROUTE_KEY = "chatdesk_cards"

ROBOT_CARD_SEND = "/v1.0/im/v1.0/robot/interactiveCards/send"
ROBOT_CARD_UPDATE = "/v1.0/im/robots/interactiveCards"
CARD_CREATE_AND_DELIVER = "/v1.0/card/instances/createAndDeliver"
CARD_UPDATE = "/v1.0/card/instances"

Mode = Literal["standard", "template"]

_STATUS = {ButtonStyle.PRIMARY: "primary", ButtonStyle.DEFAULT: "normal"}
_STATUS_DANGER = "warning"


@dataclass(frozen=True)
class CardCall:
    """One HTTP call the client makes: method, path under api_base, JSON body."""

    mode: Mode
    method: Literal["POST", "PUT"]
    path: str
    body: dict[str, Any]


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _fields_markdown(card: Card) -> str:
    return "\n".join(
        f"**{f.label}**：[{f.value}]({f.url})" if f.url else f"**{f.label}**：{f.value}"
        for f in card.fields
    )


def _private_user(card: Card, target: Target) -> str:
    """The user whose private data carries the buttons; '' when the buttons can be public."""
    return target.user_id if target.conversation_id and target.user_id else ""


# --- StandardCard ---------------------------------------------------------------------------


def standard_card_json(card: Card, *, with_buttons: bool = True) -> dict[str, Any]:
    contents: list[dict[str, Any]] = []
    if card.source:
        contents.append({"type": "text", "text": card.source, "id": "source"})
    if card.summary:
        contents.append({"type": "markdown", "text": card.summary, "id": "summary"})
    if card.fields:
        contents.append({"type": "markdown", "text": _fields_markdown(card), "id": "fields"})
    if card.status:
        contents.append({"type": "markdown", "text": f"**{card.status}**", "id": "status"})
    actions: list[dict[str, Any]] = []
    if with_buttons:
        for i, b in enumerate(card.buttons):
            actions.append(
                {
                    "type": "button",
                    "label": {"type": "text", "text": b.text, "id": f"label_{i}"},
                    "actionType": "request",
                    "status": _STATUS.get(b.style, _STATUS_DANGER),
                    "id": b.action,
                }
            )
    if card.url:
        actions.append(
            {
                "type": "button",
                "label": {"type": "text", "text": card.url_text or "查看工单", "id": "label_url"},
                "actionType": "openLink",
                "url": {"all": card.url},
                "status": "normal",
                "id": "open_url",
            }
        )
    if actions:
        contents.append({"type": "action", "actions": actions, "id": "actions"})
    return {
        "config": {"autoLayout": True, "enableForward": False},
        "header": {"title": {"type": "text", "text": card.title}},
        "contents": contents,
    }


def _standard_send(card: Card, target: Target, robot_code: str, callback_url: str) -> CardCall:
    private_user = _private_user(card, target)
    body: dict[str, Any] = {
        "cardTemplateId": STANDARD_TEMPLATE,
        "cardBizId": card.key,
        "robotCode": robot_code,
        "cardData": _dumps(standard_card_json(card, with_buttons=not private_user)),
    }
    if target.conversation_id:
        body["openConversationId"] = target.conversation_id
    else:
        body["singleChatReceiver"] = _dumps({"userId": target.user_id})
    if callback_url:
        body["callbackUrl"] = callback_url
    if private_user and card.buttons:
        body["userIdPrivateDataMap"] = _dumps({private_user: standard_card_json(card)})
    body["sendOptions"] = {}
    return CardCall("standard", "POST", ROBOT_CARD_SEND, body)


def _standard_update(card: Card, target: Target) -> CardCall:
    private_user = _private_user(card, target)
    body: dict[str, Any] = {
        "cardBizId": card.key,
        "cardData": _dumps(standard_card_json(card, with_buttons=not private_user)),
    }
    if private_user:
        body["userIdPrivateDataMap"] = _dumps({private_user: standard_card_json(card)})
    body["updateOptions"] = {"updateCardDataByKey": False, "updatePrivateDataByKey": False}
    return CardCall("standard", "PUT", ROBOT_CARD_UPDATE, body)


# --- console template -----------------------------------------------------------------------


def _buttons_param(card: Card) -> str:
    return _dumps(
        [{"text": b.text, "action": b.action, "style": b.style.value} for b in card.buttons]
    )


def template_params(card: Card, *, with_buttons: bool = True) -> dict[str, str]:
    """The template's variables; every value is a string (cardParamMap is Map<String,String>)."""
    show = with_buttons and bool(card.buttons)
    return {
        "title": card.title,
        "summary": card.summary,
        "content": _fields_markdown(card),
        "status": card.status,
        "url": card.url,
        "source": card.source,
        "buttons": _buttons_param(card) if show else "[]",
        "hasButtons": "true" if show else "false",
    }


def _private_params(card: Card) -> dict[str, str]:
    show = bool(card.buttons)
    return {"buttons": _buttons_param(card) if show else "[]", "hasButtons": str(show).lower()}


def _template_send(
    card: Card, target: Target, robot_code: str, template_id: str, route_key: str, stream: bool
) -> CardCall:
    private_user = _private_user(card, target)
    body: dict[str, Any] = {"cardTemplateId": template_id, "outTrackId": card.key}
    if stream:  # clicks come back over the Stream connection (topic /v1.0/card/instances/callback)
        body["callbackType"] = "STREAM"
    else:
        body["callbackType"] = "HTTP"
        body["callbackRouteKey"] = route_key
    body["cardData"] = {"cardParamMap": template_params(card, with_buttons=not private_user)}
    if private_user and card.buttons:
        body["privateData"] = {private_user: {"cardParamMap": _private_params(card)}}
    if target.conversation_id:
        body["openSpaceId"] = f"dtv1.card//IM_GROUP.{target.conversation_id}"
        body["imGroupOpenSpaceModel"] = {"supportForward": False}
        body["imGroupOpenDeliverModel"] = {"robotCode": robot_code}
    else:
        body["openSpaceId"] = f"dtv1.card//IM_ROBOT.{target.user_id}"
        body["imRobotOpenSpaceModel"] = {"supportForward": False}
        body["imRobotOpenDeliverModel"] = {"spaceType": "IM_ROBOT", "robotCode": robot_code}
    body["userIdType"] = 1
    return CardCall("template", "POST", CARD_CREATE_AND_DELIVER, body)


def _template_update(card: Card, target: Target) -> CardCall:
    private_user = _private_user(card, target)
    body: dict[str, Any] = {
        "outTrackId": card.key,
        "cardData": {"cardParamMap": template_params(card, with_buttons=not private_user)},
    }
    if private_user:
        body["privateData"] = {private_user: {"cardParamMap": _private_params(card)}}
    body["cardUpdateOptions"] = {"updateCardDataByKey": True, "updatePrivateDataByKey": True}
    body["userIdType"] = 1
    return CardCall("template", "PUT", CARD_UPDATE, body)


# --- entry points ---------------------------------------------------------------------------


def render_send(
    card: Card,
    target: Target,
    *,
    robot_code: str,
    template_id: str = "",
    callback_url: str = "",
    route_key: str = DEFAULT_ROUTE_KEY,
    stream: bool = False,
) -> CardCall:
    """``stream``: the app runs in Stream mode, so no card names an HTTP callback; template
    cards ask for ``callbackType: STREAM``. (The robot StandardCard API has no callback type.)"""
    if not target.conversation_id and not target.user_id:
        raise ValueError("a DingTalk card needs a user id or a conversation id")
    if template_id:
        return _template_send(card, target, robot_code, template_id, route_key, stream)
    return _standard_send(card, target, robot_code, "" if stream else callback_url)


def render_update(card: Card, target: Target, *, mode: Mode) -> CardCall:
    return _template_update(card, target) if mode == "template" else _standard_update(card, target)


def callback_response(card: Card) -> dict[str, Any]:
    """Synchronous answer to a click (§6.4): the new public data and the clicker's own data."""
    return {
        "cardData": {"cardParamMap": template_params(card)},
        "userPrivateData": {"cardParamMap": _private_params(card)},
        "cardUpdateOptions": {"updateCardDataByKey": True, "updatePrivateDataByKey": True},
    }
