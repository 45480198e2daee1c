"""How the clocks read to a person: 查看 #12 lines, and the time left for replies and cards."""

from __future__ import annotations

from datetime import datetime

from core.settings import DeskConfig
from core.sla.clocks import TARGET_ZH, TARGETS, Clock, left_text
from core.tickets.texts import when
from core.tickets.workflow import STATUS_ZH, Status


def _calendar(config: DeskConfig, clock: Clock):  # type: ignore[no-untyped-def]
    return next((c for c in config.calendars if c.key == clock.calendar), config.calendars[0])


def state(config: DeskConfig, clock: Clock, now: datetime) -> str:
    tz = config.timezone
    if clock.met_at is not None:
        verdict = "已达成" if clock.met(now) else "超时完成"
        return f"{verdict}（{when(clock.met_at, tz)}）"
    if clock.stopped:
        return "已停止"
    return left_text(_calendar(config, clock), clock, now)


def lines(config: DeskConfig, clocks: dict[str, Clock], now: datetime) -> list[str]:
    """``响应时限：06-10 12:00｜已达成（06-10 10:45）`` per target, each pause under it."""
    tz = config.timezone
    out = []
    for name in TARGETS:
        clock = clocks.get(name)
        if clock is None:
            continue
        due = "暂停中" if clock.due_at is None else when(clock.due_at, tz)
        out.append(f"{TARGET_ZH[name]}时限：{due}｜{state(config, clock, now)}")
        for p in clock.pauses:
            known = p.status in {s.value for s in Status}
            status = STATUS_ZH[Status(p.status)] if known else p.status
            end = when(p.end, tz) if p.end else "至今"
            out.append(f"  暂停 {when(p.start, tz)}–{end}（{status}）")
    return out


def next_left(config: DeskConfig, clocks: dict[str, Clock], now: datetime) -> str:
    """The time left on the first running target, e.g. ``响应剩余 1小时20分（工作时间）``."""
    for name in TARGETS:
        clock = clocks.get(name)
        if clock is not None and clock.met_at is None and not clock.stopped:
            return f"{TARGET_ZH[name]}{state(config, clock, now)}"
    return ""
