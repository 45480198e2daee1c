"""What the parts core says to people: Chinese first, short, always naming the ticket #n."""

from __future__ import annotations

from core.parts.model import Part, PartLine, Unresolved

MAX_OPTIONS = 12


def money(amount: float) -> str:
    return f"¥{amount:.2f}"


def lines_text(lines: tuple[PartLine, ...] | list[PartLine]) -> str:
    return "、".join(f"{line.sku} {line.name}×{line.qty}" for line in lines)


def _options(parts: tuple[Part, ...] | list[Part]) -> str:
    shown = "、".join(p.label for p in parts[:MAX_OPTIONS])
    more = f" 等 {len(parts)} 种" if len(parts) > MAX_OPTIONS else ""
    return shown + more


def unresolved(ref: str, problems: list[Unresolved], catalogue: list[Part]) -> str:
    said: list[str] = []
    for p in problems:
        if p.options:
            said.append(f"“{p.token}”对应多个备件：{_options(p.options)}，请写编号")
        else:
            said.append(f"找不到备件“{p.token}”")
    tail = f"。可选备件：{_options(catalogue)}" if any(not p.options for p in problems) else ""
    if not catalogue:
        tail = "。备件目录为空，请联系库管"
    return f"工单 {ref} 的备件申请未提交：{'；'.join(said)}{tail}。"


def forbidden_request(ref: str) -> str:
    return f"抱歉，只有负责工单 {ref} 的工程师（或客服、经理）可以申请备件。"


def not_accepted(ref: str, status: str) -> str:
    return f"工单 {ref} 当前状态为{status}，只有处理中的工单可以申请备件。"


def bad_qty(ref: str) -> str:
    return f"工单 {ref} 的备件数量应为 1 到 9999。"


def no_lines(ref: str) -> str:
    return f"请写明要申请的备件，例如：申请备件 {ref} LX-01*2"


def no_keepers(ref: str) -> str:
    return f"抱歉，目前没有可审批的库管，工单 {ref} 的备件申请未提交，请联系经理。"


def requested(ref: str, request_id: int, lines: list[PartLine], cost: float) -> str:
    return (
        f"已提交工单 {ref} 的备件申请（申请单 {request_id}）：{lines_text(lines)}，"
        f"合计 {money(cost)}，等待库管审批。"
    )


def keepers_only(ref: str) -> str:
    return f"抱歉，只有库管可以审批工单 {ref} 的备件申请。"


def no_request(request_id: int) -> str:
    return f"没有找到备件申请单 {request_id}。"


def already_decided(ref: str, request_id: int, who: str, approved: bool) -> str:
    verb = "同意" if approved else "驳回"
    return f"工单 {ref} 的备件申请（申请单 {request_id}）已由 {who} {verb}，无需重复处理。"


def reason_required(ref: str) -> str:
    return f"驳回工单 {ref} 的备件申请需要填写原因。"


def wrong_ticket_state(ref: str, status: str) -> str:
    return f"工单 {ref} 当前状态为{status}，不在等待备件，无法处理这张备件申请。"


def stock_short(ref: str, request_id: int, short: list[tuple[PartLine, Part | None]]) -> str:
    items = "；".join(
        f"{line.sku} {line.name} 需要 {line.qty}，库存 {part.stock if part else 0}"
        for line, part in short
    )
    return (
        f"库存不足，无法同意工单 {ref} 的备件申请（申请单 {request_id}）：{items}。"
        "申请仍待审批，补货后可再次同意，或驳回。"
    )


def card_status(who: str, approved: bool, at: str, reason: str = "") -> str:
    if approved:
        return f"{who} 已同意（{at}）"
    return f"{who} 已驳回：{reason}（{at}）"


def approved_for_engineer(ref: str, who: str, lines: tuple[PartLine, ...], cost: float) -> str:
    return (
        f"工单 {ref} 的备件申请已由 {who} 同意：{lines_text(lines)}，"
        f"费用 {money(cost)} 已计入工单，工单回到处理中。"
    )


def rejected_for_engineer(ref: str, who: str, reason: str) -> str:
    return f"工单 {ref} 的备件申请被 {who} 驳回，原因：{reason}。工单回到处理中。"


def decided_for_keeper(ref: str, request_id: int, approved: bool) -> str:
    if approved:
        return f"已同意工单 {ref} 的备件申请（申请单 {request_id}），库存已扣减。"
    return f"已驳回工单 {ref} 的备件申请（申请单 {request_id}）。"


def stock_low(ref: str, part: Part) -> str:
    return (
        f"库存预警：{part.label} 剩余 {part.stock}{part.unit}，"
        f"低于最低库存 {part.min_stock}{part.unit}（因工单 {ref} 领用），请及时补货。"
    )
