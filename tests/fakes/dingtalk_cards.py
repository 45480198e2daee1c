"""Card endpoints of the fake DingTalk server and the helpers they share with it.

Split from dingtalk_api.py to keep modules small; FakeDingtalk mixes CardEndpoints in.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import TYPE_CHECKING, Any

from aiohttp import web

BODY = web.RequestKey("dingtalk_fake_body", object)
_SPACE_RE = re.compile(r"^dtv1\.card//(IM_GROUP|IM_ROBOT|IM_SINGLE|ONE_BOX)\.(.+)$", re.I)


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str = "") -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message or code


class FakeBase:
    """Request helpers; FakeDingtalk provides the state and ``_auth``."""

    if TYPE_CHECKING:
        app_key: str
        robot_code: str
        known_users: set[str] | None
        cards: dict[str, dict[str, Any]]
        robot_cards: dict[str, dict[str, Any]]
        callbacks: dict[str, dict[str, Any]]

        def _auth(self, request: web.Request) -> None: ...

    @staticmethod
    def _obj(request: web.Request) -> dict[str, Any]:
        body = request[BODY]
        if not isinstance(body, dict):
            raise Refused(400, "InvalidParameter", "body must be a JSON object")
        return body

    @staticmethod
    def _json_str(value: Any, name: str) -> Any:
        if not isinstance(value, str):
            raise Refused(400, "invalidParameter", f"{name} must be a JSON string")
        try:
            return json.loads(value)
        except ValueError as exc:
            raise Refused(400, "invalidParameter", f"{name} is not JSON") from exc

    def _check_robot(self, body: dict[str, Any]) -> None:
        if body.get("robotCode") != (self.robot_code or self.app_key):
            raise Refused(400, "invalidParameter.robotCode", "robot does not exist")

    def _check_param_map(self, data: Any, name: str) -> dict[str, str]:
        pm = data.get("cardParamMap") if isinstance(data, dict) else None
        if not isinstance(pm, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in pm.items()
        ):
            raise Refused(400, "param.invalid", f"{name}.cardParamMap must map strings")
        return pm

    # --- endpoints ----------------------------------------------------------------------------


class CardEndpoints(FakeBase):
    """/v1.0/card/... and the robot StandardCard endpoints (reference/dingtalk.md §6)."""

    def _space(self, body: dict[str, Any]) -> list[tuple[str, str]]:
        raw = body.get("openSpaceId")
        if not isinstance(raw, str) or not raw:
            raise Refused(400, "param.openSpaceIdEmpty")
        spaces: list[tuple[str, str]] = []
        for i, part in enumerate(raw.split(";")):
            m = _SPACE_RE.match(part if i == 0 else "dtv1.card//" + part)
            if not m:
                raise Refused(400, "param.openSpaceIdInvalid")
            spaces.append((m.group(1).upper(), m.group(2)))
        return spaces

    async def _create_and_deliver(self, request: web.Request) -> web.Response:
        self._auth(request)
        body = self._obj(request)
        track = body.get("outTrackId")
        if not isinstance(track, str) or not track:
            raise Refused(400, "param.outTrackIdEmpty")
        if not body.get("cardTemplateId"):
            raise Refused(400, "param.cardTemplateIdEmpty")
        params = self._check_param_map(body.get("cardData"), "cardData")
        private = body.get("privateData") or {}
        for uid, data in private.items() if isinstance(private, dict) else [(0, None)]:
            self._check_param_map(data, f"privateData.{uid}")
        if body.get("callbackType") not in (None, "STREAM", "HTTP"):
            raise Refused(400, "param.invalid", "callbackType")
        if body.get("callbackType") == "HTTP" and not body.get("callbackRouteKey"):
            raise Refused(400, "param.invalid", "callbackRouteKey")  # HTTP needs its route (§6.2)
        results = []
        for space_type, space_id in self._space(body):
            prefix = {"IM_GROUP": "imGroup", "IM_ROBOT": "imRobot"}.get(space_type, "x")
            model = body.get(f"{prefix}OpenSpaceModel")
            deliver = body.get(f"{prefix}OpenDeliverModel")
            if not isinstance(model, dict) or "supportForward" not in model:
                raise Refused(400, "param.openSpaceModelEmpty")
            if not isinstance(deliver, dict):
                raise Refused(400, "param.openDeliverModelEmpty")
            if space_type == "IM_GROUP":
                self._check_robot(deliver)
            if space_type == "IM_ROBOT" and self.known_users is not None:
                if space_id not in self.known_users:
                    raise Refused(400, "param.userIdNotExist")
            results.append(
                {
                    "spaceType": space_type,
                    "spaceId": space_id,
                    "success": True,
                    "carrierId": uuid.uuid4().hex,
                    "errorMsg": "",
                }
            )
        if track in self.cards:
            raise Refused(400, "param.cardAlreadyExist")
        self.cards[track] = {
            "template": body["cardTemplateId"],
            "public": dict(params),
            "private": {u: dict(d["cardParamMap"]) for u, d in private.items()},
            "updates": 0,
            "request": body,
        }
        return web.json_response(
            {"success": True, "result": {"outTrackId": track, "deliverResults": results}}
        )

    async def _update_instance(self, request: web.Request) -> web.Response:
        self._auth(request)
        body = self._obj(request)
        card = self.cards.get(body.get("outTrackId") or "")
        if card is None:
            raise Refused(400, "param.cardNotExist")
        opts = body.get("cardUpdateOptions") or {}
        if "cardData" in body:
            params = self._check_param_map(body["cardData"], "cardData")
            if opts.get("updateCardDataByKey"):
                card["public"].update(params)
            else:
                card["public"] = dict(params)
        for uid, data in (body.get("privateData") or {}).items():
            pm = self._check_param_map(data, f"privateData.{uid}")
            if opts.get("updatePrivateDataByKey"):
                card["private"].setdefault(uid, {}).update(pm)
            else:
                card["private"][uid] = dict(pm)
        card["updates"] += 1
        return web.json_response({"success": True, "result": True})

    async def _robot_card_send(self, request: web.Request) -> web.Response:
        self._auth(request)
        body = self._obj(request)
        self._check_robot(body)
        biz = body.get("cardBizId")
        if not isinstance(biz, str) or not biz or not body.get("cardTemplateId"):
            raise Refused(400, "invalidParameter", "cardBizId and cardTemplateId are required")
        data = self._json_str(body.get("cardData"), "cardData")
        group, single = body.get("openConversationId"), body.get("singleChatReceiver")
        if bool(group) == bool(single):
            raise Refused(400, "invalidParameter", "one of openConversationId/singleChatReceiver")
        if single:
            receiver = self._json_str(single, "singleChatReceiver")
            uid = receiver.get("userId") if isinstance(receiver, dict) else None
            if not uid or (self.known_users is not None and uid not in self.known_users):
                raise Refused(400, "invalidParameter.singleChatReceiver", "unknown user")
        private = body.get("userIdPrivateDataMap")
        private_data = self._json_str(private, "userIdPrivateDataMap") if private else {}
        key = uuid.uuid4().hex
        if biz not in self.robot_cards:  # same cardBizId again: no new card, data unchanged
            self.robot_cards[biz] = {
                "data": data,
                "private": private_data,
                "updates": 0,
                "request": body,
            }
        return web.json_response({"processQueryKey": key})

    async def _robot_card_update(self, request: web.Request) -> web.Response:
        self._auth(request)
        body = self._obj(request)
        card = self.robot_cards.get(body.get("cardBizId") or "")
        if card is None:
            raise Refused(400, "invalidParameter.cardBizId", "card does not exist")
        card["data"] = self._json_str(body.get("cardData"), "cardData")
        if body.get("userIdPrivateDataMap"):
            card["private"] = self._json_str(body["userIdPrivateDataMap"], "userIdPrivateDataMap")
        card["updates"] += 1
        return web.json_response({"success": True, "result": True})

    async def _register_callback(self, request: web.Request) -> web.Response:
        self._auth(request)
        body = self._obj(request)
        key = body.get("callbackRouteKey")
        if not key or not body.get("callbackUrl"):
            raise Refused(400, "param.invalid", "callbackRouteKey and callbackUrl")
        if key not in self.callbacks or body.get("forceUpdate"):
            self.callbacks[key] = body
        stored = self.callbacks[key]
        return web.json_response(
            {
                "success": True,
                "result": {
                    "callbackUrl": stored["callbackUrl"],
                    "apiSecret": stored.get("apiSecret"),
                },
            }
        )
