"""Neutral Card → WeCom template_card: golden files, limits, and the fake's independent check."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.wecom.render import (
    card_as_text,
    render_card,
    render_update,
    truncate_bytes,
    truncate_chars,
)
from cards.model import Button, ButtonStyle, Card, Field
from tests.fakes.wecom_cards import validate_template_card
from tests.fakes.wecom_support import FIXTURES

GOLDEN = FIXTURES / "golden"

ASSIGN = Card(
    key="t42_assign_v1",
    title="工单 #42 打印机故障",
    summary="三楼打印机卡纸，无法打印",
    fields=(Field(label="提交人", value="张三"), Field(label="优先级", value="高")),
    buttons=(
        Button(text="接单", action="v1.accept.42.t42_assign_v1.sig", style=ButtonStyle.PRIMARY),
        Button(text="拒单", action="v1.decline.42.t42_assign_v1.sig", style=ButtonStyle.DANGER),
    ),
    url="https://desk.example.com/t/42",
)
FINISHED = ASSIGN.model_copy(update={"buttons": (), "status": "张伟 已接单 11-29 10:02"})
RATING = Card(
    key="t42_rate",
    title="请为工单 #42 的服务打分",
    buttons=tuple(Button(text=f"{n}分", action=f"v1.rate.42.{n}") for n in range(5, 0, -1)),
)
LONG = Card(
    key="t43_assign",
    title="很长的标题" * 20,
    summary="摘要" * 40,
    fields=tuple(Field(label=f"字段名称很长很长{i}", value="值" * 50) for i in range(8)),
    buttons=(Button(text="一个非常非常长的按钮文字", action="k"),),
    source="",
)

CASES: dict[str, Any] = {
    "card_assignment": lambda: render_card(ASSIGN),
    "card_finished_text_notice": lambda: render_card(FINISHED),
    "card_rating": lambda: render_card(RATING),
    "card_long_texts": lambda: render_card(LONG),
    "update_finished": lambda: render_update(FINISHED),
    "update_replace_card": lambda: render_update(ASSIGN, task_id="t42_assign_v1"),
}


def dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str) -> None:
    path = GOLDEN / f"{name}.json"
    got = dump(CASES[name]())
    if os.environ.get("CHATDESK_UPDATE_GOLDEN"):
        path.write_text(got, encoding="utf-8")
    assert got == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(CASES))
def test_rendered_cards_pass_the_fakes_independent_check(name: str) -> None:
    out = CASES[name]()
    card = out.get("template_card", out) if name.startswith("update") else out
    if "button" in out:
        assert out["button"]["replace_name"]
        return
    assert validate_template_card(card) == ""


def test_button_card_shape() -> None:
    out = render_card(ASSIGN)
    assert out["card_type"] == "button_interaction"
    assert out["task_id"] == "t42_assign_v1"
    assert [b["key"] for b in out["button_list"]] == [b.action for b in ASSIGN.buttons]
    assert [b["text"] for b in out["button_list"]] == ["接单", "拒单"]


def test_finished_card_shows_status_without_buttons() -> None:
    out = render_card(FINISHED)
    assert out["card_type"] == "text_notice"
    assert "button_list" not in out
    assert "张伟 已接单 11-29 10:02" in out["sub_title_text"]
    assert out["card_action"] == {"type": 1, "url": "https://desk.example.com/t/42"}


def test_update_of_finished_card_greys_buttons_with_status() -> None:
    assert render_update(FINISHED) == {"button": {"replace_name": "张伟 已接单 11-29 10:02"}}


def test_long_texts_are_cut_with_ellipsis_and_extra_fields_fold() -> None:
    out = render_card(LONG)
    assert out["main_title"]["title"].endswith("…")
    assert len(out["main_title"]["title"]) == 36
    assert len(out["horizontal_content_list"]) == 6
    assert "字段名称很长很长6" in out["sub_title_text"]
    assert out["button_list"][0]["text"].endswith("…")


def _card(**kw: Any) -> Card:
    return ASSIGN.model_copy(update=kw)


@pytest.mark.parametrize(
    ("card", "match"),
    [
        (_card(buttons=tuple(Button(text=str(i), action=f"k{i}") for i in range(7))), "at most 6"),
        (_card(key="t" * 129), "128 bytes"),
        (_card(key="t42 assign"), "must match"),
        (_card(key="工单42"), "must match"),
        (_card(key=""), "must match"),
        (_card(buttons=(Button(text="x", action="k" * 1025),)), "1024 bytes"),
        (_card(buttons=(Button(text="x", action="键" * 342),)), "1024 bytes"),  # 1026 bytes
        (_card(buttons=(Button(text="x", action=""),)), "empty"),
        (_card(buttons=(Button(text="a", action="k"), Button(text="b", action="k"))), "unique"),
        (_card(buttons=(), url=""), "URL"),
        (_card(title="  "), "title"),
    ],
)
def test_unrenderable_cards_raise_value_error(card: Card, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        render_card(card)


def test_limits_at_the_edge_are_accepted() -> None:
    out = render_card(
        _card(
            key="a" * 128,
            buttons=tuple(Button(text=str(i), action=f"{i}" + "k" * 1000) for i in range(6)),
        )
    )
    assert len(out["button_list"]) == 6
    assert validate_template_card(out) == ""


def test_text_notice_may_use_a_fallback_url() -> None:
    out = render_card(_card(buttons=(), url="", status="已关闭"), fallback_url="https://d/t")
    assert out["card_action"]["url"] == "https://d/t"


def test_card_as_text_is_bounded() -> None:
    text = card_as_text(LONG.model_copy(update={"summary": "长" * 3000}))
    assert len(text.encode()) <= 2048
    assert text.endswith("…")


@given(st.text(max_size=3000), st.integers(min_value=3, max_value=2100))
def test_truncate_bytes_property(text: str, limit: int) -> None:
    out = truncate_bytes(text, limit)
    assert len(out.encode("utf-8")) <= limit
    if len(text.encode("utf-8")) <= limit:
        assert out == text
    else:
        assert out.endswith("…")
        assert text.startswith(out[:-1])


@given(st.text(max_size=300), st.integers(min_value=1, max_value=200))
def test_truncate_chars_property(text: str, limit: int) -> None:
    out = truncate_chars(text, limit)
    assert len(out) <= limit
    assert out == text or (out.endswith("…") and text.startswith(out[:-1]))
