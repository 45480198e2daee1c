"""The chat grammar: every CONTRACT §6 form, Chinese and English."""

from __future__ import annotations

import pytest

from bot.grammar import parse, parse_parts


@pytest.mark.parametrize(
    ("text", "name", "ticket"),
    [
        ("查看 #12", "show", 12), ("/show #12", "show", 12), ("查看#12", "show", 12),
        ("接单 #3", "accept", 3), ("/accept 3", "accept", 3),
        ("拒单 #3 不在附近", "decline", 3), ("/decline #3 busy", "decline", 3),
        ("转派 #4 王强", "transfer", 4), ("/transfer #4 wang", "transfer", 4),
        ("备注 #5 客户下午不在", "note", 5), ("/note #5 call first", "note", 5),
        ("回复 #6 明天上午到", "reply", 6), ("/reply #6 tomorrow", "reply", 6),
        ("申请备件 #7 LX-01*2", "parts", 7), ("/parts #7 LX-01*2", "parts", 7),
        ("完工 #8 更换滤芯", "done", 8), ("/done #8 replaced", "done", 8),
        ("确认 #9", "confirm", 9), ("确认完成 #9", "confirm", 9), ("/confirm #9", "confirm", 9),
        ("未解决 #10 还在漏", "reopen", 10), ("/reopen #10 still", "reopen", 10),
        ("评价 #11 5 很好", "rate", 11), ("/rate #11 4", "rate", 11),
        ("到场 #12", "arrive", 12), ("/arrive #12", "arrive", 12), ("到场#12", "arrive", 12),
    ],
)  # fmt: skip
def test_commands_with_a_ticket(text: str, name: str, ticket: int) -> None:
    parsed = parse(text)
    assert parsed is not None and parsed.name == name and parsed.ticket_id == ticket


@pytest.mark.parametrize(
    ("text", "name"),
    [("帮助", "help"), ("/help", "help"), ("我的工单", "my"), ("/my", "my"), ("取消", "cancel"),
     ("是", "yes"), ("否", "no"), ("报修 注塑机坏了", "new"), ("/new broken", "new"),
     ("知识 E31", "kb"), ("/kb E31", "kb"), ("统计 今天", "summary"), ("/summary week", "summary")],
)  # fmt: skip
def test_commands_without_a_ticket(text: str, name: str) -> None:
    parsed = parse(text)
    assert parsed is not None and parsed.name == name


def test_free_text_is_not_a_command() -> None:
    assert parse("注塑机报警 E31，无法启动") is None


def test_a_verb_without_a_ticket_asks_for_one() -> None:
    parsed = parse("接单")
    assert parsed is not None and parsed.name == "usage" and parsed.text == "接单"


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("统计 今天", "today"),
        ("统计 本周", "week"),
        ("统计 本月", "month"),
        ("/summary month", "month"),
        ("统计", "today"),
    ],
)
def test_summary_periods(text: str, period: str) -> None:
    parsed = parse(text)
    assert parsed is not None and parsed.period == period and not parsed.errors


def test_an_unknown_summary_period_is_an_error() -> None:
    parsed = parse("统计 去年")
    assert parsed is not None and parsed.errors == ["去年"]


def test_parts_lines_by_sku_and_name() -> None:
    lines, errors = parse_parts("LX-01*2 MF-03*1 滤芯x3, 密封圈×2 JR-12")
    assert lines == (("LX-01", 2), ("MF-03", 1), ("滤芯", 3), ("密封圈", 2), ("JR-12", 1))
    assert errors == []


def test_parts_with_a_zero_quantity_is_an_error() -> None:
    _, errors = parse_parts("LX-01*0")
    assert errors == ["LX-01*0"]


def test_rating_needs_a_score_from_one_to_five() -> None:
    assert parse("评价 #1 5分 很满意").score == 5  # type: ignore[union-attr]
    assert parse("评价 #1 5分 很满意").text == "很满意"  # type: ignore[union-attr]
    bad = parse("评价 #1 9")
    assert bad is not None and bad.score is None and bad.errors


def test_arrive_without_a_ticket_asks_for_one() -> None:
    parsed = parse("到场")
    assert parsed is not None and parsed.name == "usage" and parsed.text == "到场"
