"""The default field-service workflow: statuses and the transition table (CONTRACT §5)."""

from __future__ import annotations

from enum import StrEnum

from core.errors import InvalidTransition


class Status(StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    WAITING_PARTS = "waiting_parts"
    WAITING_CUSTOMER = "waiting_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"


STATUS_ZH: dict[Status, str] = {
    Status.NEW: "待派单",
    Status.ASSIGNED: "已派单",
    Status.ACCEPTED: "处理中",
    Status.WAITING_PARTS: "等待备件",
    Status.WAITING_CUSTOMER: "等待客户",
    Status.RESOLVED: "已完工",
    Status.CLOSED: "已关闭",
    Status.CANCELLED: "已取消",
}

S = Status
TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.NEW: frozenset({S.ASSIGNED, S.WAITING_CUSTOMER, S.RESOLVED, S.CANCELLED}),
    S.ASSIGNED: frozenset({S.ACCEPTED, S.NEW, S.ASSIGNED, S.CANCELLED}),
    S.ACCEPTED: frozenset(
        {S.WAITING_PARTS, S.WAITING_CUSTOMER, S.RESOLVED, S.ASSIGNED, S.CANCELLED}
    ),
    S.WAITING_PARTS: frozenset({S.ACCEPTED, S.CANCELLED}),
    S.WAITING_CUSTOMER: frozenset({S.NEW, S.ACCEPTED, S.RESOLVED, S.CANCELLED}),
    S.RESOLVED: frozenset({S.CLOSED, S.ACCEPTED}),
    S.CLOSED: frozenset(),
    S.CANCELLED: frozenset(),
}

OPEN_STATUSES = frozenset(s for s in Status if s not in (S.CLOSED, S.CANCELLED))


def label(status: Status) -> str:
    return f"{STATUS_ZH[status]}（{status.value}）"


def check_transition(ref: str, current: Status, target: Status) -> None:
    """Raise InvalidTransition naming the current status when ``target`` is not allowed."""
    if target not in TRANSITIONS[current]:
        allowed = "、".join(label(s) for s in sorted(TRANSITIONS[current])) or "无（已结束）"
        raise InvalidTransition(
            f"工单 {ref} 当前状态为{label(current)}，不能变为{label(target)}。可以变为：{allowed}",
            field="status",
        )
