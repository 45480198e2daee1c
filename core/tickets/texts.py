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

# --- 到场 (arrival on site) ------------------------------------------------------------------
ARRIVE_ENGINEERS_ONLY = "抱歉，只有负责的工程师可以登记到场（工单 {ref}）。"
ARRIVE_NOT_YOURS = "工单 {ref} 没有派给您，无法登记到场。"
ARRIVE_ACCEPT_FIRST = "请先接单，再登记到场：接单 {ref}"
ARRIVE_CANNOT = "工单 {ref} 当前状态为{status}，无法登记到场。"
ARRIVE_NONE = "已收到您的位置。您目前没有处理中的工单，无需登记到场。"
ARRIVE_WHICH = "您有多个处理中的工单（{refs}），请发送“到场 #工单号”登记到场。"
ARRIVED_OK = "已登记工单 {ref} 到场（{at}）{place}。"
ARRIVED_AGAIN = "已登记工单 {ref} 再次到场（{at}）{place}；首次到场为 {first}。"
ARRIVED_PLACE = "，位置：{label}"
CUSTOMER_ARRIVED = "工程师 {name} 已到达现场，开始处理您的工单 {ref}。"
