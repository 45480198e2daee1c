"""What the SLA engine says: Chinese first, short, always naming the ticket #n."""

from __future__ import annotations

ACKED = "{name} 已知悉（{at}）"
ALREADY_ACKED = "您已确认过该提醒（{refs}），无需重复操作。"
REDISPATCHED_CARD = "响应超时，工单已收回改派（{at}）"
CALENDAR_FALLBACK = (
    "calendars.{key}: chinese-calendar {version} 只含 {last} 年及以前的节假日；{year} 年按仅周末休息计算。"
    "国务院每年 11 月前后公布下一年安排，请升级：pip install -U 'chinese-calendar>{version}'"
)
