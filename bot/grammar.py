"""The chat command grammar (CONTRACT §6): Chinese and English forms, one parser.

``parse(text)`` returns the command a line of text names, or None for free text (which the
intake dialog treats as a problem description).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_REF = r"#?\s*(\d{1,9})"
_PART = re.compile(r"^(.+?)\s*(?:[*xX×＊]\s*(\d{1,4}))?$")


@dataclass(frozen=True)
class Parsed:
    name: str  # new, my, show, accept, decline, transfer, note, reply, parts, done, confirm,
    #            reopen, rate, arrive, kb, summary, help, cancel, yes, no
    ticket_id: int | None = None
    text: str = ""
    lines: tuple[tuple[str, int], ...] = ()
    score: int | None = None
    period: str = ""
    errors: list[str] = field(default_factory=list)


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I | re.S)


_PERIODS = {"今天": "today", "今日": "today", "today": "today", "本周": "week", "week": "week",
            "本月": "month", "month": "month"}  # fmt: skip

_SIMPLE: list[tuple[re.Pattern[str], str]] = [
    (_rx(r"^(?:帮助|help|/help|\?|？|菜单)$"), "help"),
    (_rx(r"^(?:我的工单|/my)$"), "my"),
    (_rx(r"^(?:取消|/cancel)$"), "cancel"),
    (_rx(r"^(?:是|是的|对|yes|y)$"), "yes"),
    (_rx(r"^(?:否|不是|不|新建|no|n)$"), "no"),
]

# name, pattern with the ticket reference as group 1 and the rest as group 2
_WITH_REF: list[tuple[str, re.Pattern[str]]] = [
    ("show", _rx(rf"^(?:查看|/show)\s*{_REF}()$")),
    ("accept", _rx(rf"^(?:接单|/accept)\s*{_REF}()$")),
    ("decline", _rx(rf"^(?:拒单|/decline)\s*{_REF}\s*(.*)$")),
    ("transfer", _rx(rf"^(?:转派|/transfer)\s*{_REF}\s*(.*)$")),
    ("note", _rx(rf"^(?:备注|/note)\s*{_REF}\s*(.*)$")),
    ("reply", _rx(rf"^(?:回复|/reply)\s*{_REF}\s*(.*)$")),
    ("parts", _rx(rf"^(?:申请备件|/parts)\s*{_REF}\s*(.*)$")),
    ("done", _rx(rf"^(?:完工|/done)\s*{_REF}\s*(.*)$")),
    ("confirm", _rx(rf"^(?:确认完成|确认|/confirm)\s*{_REF}()$")),
    ("reopen", _rx(rf"^(?:未解决|/reopen)\s*{_REF}\s*(.*)$")),
    ("rate", _rx(rf"^(?:评价|/rate)\s*{_REF}\s*(.*)$")),
    ("arrive", _rx(rf"^(?:到场|到达|/arrive)\s*{_REF}()$")),
]
# the same verbs without a ticket reference: the bot says how to write them
_VERBS = _rx(r"^(查看|/show|接单|/accept|拒单|/decline|转派|/transfer|备注|/note|回复|/reply|"
             r"申请备件|/parts|完工|/done|确认|/confirm|未解决|/reopen|评价|/rate|到场|/arrive)(\s|$)")  # fmt: skip


def parse_parts(text: str) -> tuple[tuple[tuple[str, int], ...], list[str]]:
    """``LX-01*2 滤芯×1 MF-03`` → ((LX-01, 2), (滤芯, 1), (MF-03, 1)), errors."""
    lines: list[tuple[str, int]] = []
    errors: list[str] = []
    for token in re.split(r"[\s,，、;；]+", text.strip()):
        if not token:
            continue
        m = _PART.match(token)
        if not m or not m.group(1):
            errors.append(token)
            continue
        qty = int(m.group(2) or 1)
        if qty < 1:
            errors.append(token)
            continue
        lines.append((m.group(1), qty))
    return tuple(lines), errors


def parse(text: str) -> Parsed | None:
    text = text.strip()
    for pattern, name in _SIMPLE:
        if pattern.match(text):
            return Parsed(name)
    if m := _rx(r"^(?:统计|/summary)\s*(\S*)$").match(text):
        period = _PERIODS.get(m.group(1).lower() or "今天", "")
        return Parsed("summary", period=period, errors=[] if period else [m.group(1)])
    if m := _rx(r"^(?:查看设备|/asset)(?:\s+|$)(.*)$").match(text):
        return Parsed("asset", text=m.group(1).strip())
    if m := _rx(r"^(?:知识|/kb)\s*(.*)$").match(text):
        return Parsed("kb", text=m.group(1).strip())
    if m := _rx(r"^(?:报修|/new)\s*(.*)$").match(text):
        return Parsed("new", text=m.group(1).strip())
    for name, pattern in _WITH_REF:
        if m := pattern.match(text):
            ticket_id, rest = int(m.group(1)), m.group(2).strip()
            if name == "parts":
                lines, errors = parse_parts(rest)
                return Parsed(name, ticket_id, rest, lines=lines, errors=errors)
            if name == "rate":
                sm = re.match(r"^([1-5])(?:\s*分)?\s*(.*)$", rest, re.S)
                if not sm:
                    return Parsed(name, ticket_id, rest, errors=["score"])
                return Parsed(name, ticket_id, sm.group(2).strip(), score=int(sm.group(1)))
            return Parsed(name, ticket_id, rest)
    if m := _VERBS.match(text):
        return Parsed("usage", text=m.group(1))
    return None
