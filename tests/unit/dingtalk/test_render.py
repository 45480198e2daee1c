"""Card rendering against golden JSON files (compared exactly).

Regenerate after an intended change with CHATDESK_UPDATE_GOLDEN=1, then review the diff.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from bot.dingtalk import render
from bot.ports import Target
from cards.model import Button, ButtonStyle, Card, Field
from tests.fakes.dingtalk_data import GOLDEN

ASSIGN = Card(
    key="t42_assign",
    title="新工单 #42 待接单",
    summary="注塑机漏油，客户：华东精密",
    fields=(Field(label="优先级", value="高"), Field(label="地址", value="上海市嘉定区")),
    buttons=(
        Button(text="接单", action="v1.accept.42.sigA", style=ButtonStyle.PRIMARY),
        Button(text="拒单", action="v1.decline.42.sigB", style=ButtonStyle.DANGER),
    ),
    url="https://desk.example.com/t/42",
)
DONE = ASSIGN.model_copy(update={"buttons": (), "status": "张伟 已接单 11-29 10:02"})
PARTS = Card(
    key="t42_parts",
    title="备件申请 #42",
    fields=(Field(label="备件", value="LX-01*2"),),
    buttons=(
        Button(text="同意", action="v1.approve.42.sigC", style=ButtonStyle.PRIMARY),
        Button(text="驳回", action="v1.reject.42.sigD"),
    ),
)
ONE = Target(platform="dingtalk", user_id="zhangwei")
GROUP = Target(platform="dingtalk", conversation_id="cidAsXSBLnA==", user_id="stock01")
GROUP_ALL = Target(platform="dingtalk", conversation_id="cidAsXSBLnA==")

CASES: dict[str, Any] = {
    "standard_send_single": lambda: render.render_send(
        ASSIGN, ONE, robot_code="dingrobot", callback_url="https://desk.example.com/cb"
    ),
    "standard_send_group_private": lambda: render.render_send(PARTS, GROUP, robot_code="dingrobot"),
    "standard_send_group_public": lambda: render.render_send(
        PARTS, GROUP_ALL, robot_code="dingrobot"
    ),
    "standard_update_finished": lambda: render.render_update(DONE, ONE, mode="standard"),
    "standard_update_group_finished": lambda: render.render_update(
        PARTS.model_copy(update={"buttons": (), "status": "李库管 已同意"}), GROUP, mode="standard"
    ),
    "template_send_single": lambda: render.render_send(
        ASSIGN, ONE, robot_code="dingrobot", template_id="tpl-123.schema"
    ),
    "template_send_group_private": lambda: render.render_send(
        PARTS, GROUP, robot_code="dingrobot", template_id="tpl-123.schema", route_key="rk1"
    ),
    "template_update_finished": lambda: render.render_update(DONE, GROUP, mode="template"),
    "callback_response_finished": lambda: render.callback_response(DONE),
    "standard_card_json_assign": lambda: render.standard_card_json(ASSIGN),
}


def _as_json(value: Any) -> Any:
    if isinstance(value, render.CardCall):
        return {"mode": value.mode, "method": value.method, "path": value.path, "body": value.body}
    return value


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str) -> None:
    got = json.dumps(_as_json(CASES[name]()), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    path = GOLDEN / f"{name}.json"
    if os.environ.get("CHATDESK_UPDATE_GOLDEN") == "1":
        path.write_text(got, encoding="utf-8")
    assert got == path.read_text(encoding="utf-8")


def test_outtrackid_is_card_key() -> None:
    assert render.render_send(ASSIGN, ONE, robot_code="r").body["cardBizId"] == ASSIGN.key
    tpl = render.render_send(ASSIGN, ONE, robot_code="r", template_id="t")
    assert tpl.body["outTrackId"] == ASSIGN.key
    assert render.render_update(DONE, ONE, mode="template").body["outTrackId"] == ASSIGN.key


def test_group_buttons_only_in_private_data() -> None:
    call = render.render_send(PARTS, GROUP, robot_code="r")
    public = json.loads(call.body["cardData"])
    private = json.loads(call.body["userIdPrivateDataMap"])
    assert "v1.approve.42.sigC" not in json.dumps(public)
    assert set(private) == {"stock01"}
    assert "v1.approve.42.sigC" in json.dumps(private)
    tpl = render.render_send(PARTS, GROUP, robot_code="r", template_id="t")
    assert tpl.body["cardData"]["cardParamMap"]["buttons"] == "[]"
    assert "v1.reject.42.sigD" in tpl.body["privateData"]["stock01"]["cardParamMap"]["buttons"]


def test_finished_card_has_no_request_buttons() -> None:
    call = render.render_update(DONE, ONE, mode="standard")
    data = json.loads(call.body["cardData"])
    kinds = [
        a["actionType"] for c in data["contents"] if c["type"] == "action" for a in c["actions"]
    ]
    assert "request" not in kinds
    assert any(c.get("text") == "**张伟 已接单 11-29 10:02**" for c in data["contents"])


def test_param_map_values_are_strings() -> None:
    for call in (
        render.render_send(ASSIGN, GROUP, robot_code="r", template_id="t"),
        render.render_update(DONE, GROUP, mode="template"),
    ):
        maps = [call.body["cardData"]["cardParamMap"]]
        maps += [v["cardParamMap"] for v in call.body.get("privateData", {}).values()]
        assert all(isinstance(v, str) for m in maps for v in m.values())


def test_target_required() -> None:
    with pytest.raises(ValueError):
        render.render_send(ASSIGN, Target(platform="dingtalk"), robot_code="r")
