"""What the ticket core says to people: Chinese first, short, always naming the ticket #n."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def when(at: datetime | None, tz: str) -> str:
    return at.astimezone(ZoneInfo(tz)).strftime("%m-%d %H:%M") if at else "—"


def opened(ref: str, type_name: str, due: str) -> str:
    return f"已为您创建工单 {ref}（{type_name}），我们将在 {due} 前响应。回复“查看 {ref}”可随时了解进度。"


def assigned_to_you(ref: str, title: str) -> str:
    return f"您有新工单 {ref}：{title}。回复“接单 {ref}”或“拒单 {ref} 原因”。"


def status_changed(ref: str, label: str) -> str:
    return f"工单 {ref} 状态已更新为：{label}。"


def requester_only(ref: str) -> str:
    return f"客户只能为自己提交工单（{ref}）。"


NO_TICKET = "没有找到工单 {ref}，请检查编号。"
STAFF_ONLY = "抱歉，只有服务人员可以{action}。"
