"""服务报告单: one printable page per ticket (HTML with a print stylesheet).

Used by the customer's ticket page /p/<token> (progress while open, the report once finished)
and by the REST API (/api/v1/tickets/{id}/report). Every value is escaped.
"""

from __future__ import annotations

import base64
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from core.settlement.calc import KIND_ZH
from core.settlement.handlers import on_site_span
from core.tickets.completion import last_move
from core.tickets.model import Ticket
from core.tickets.workflow import STATUS_ZH, Status
from core.uow import SqlUnitOfWork
from webhooks.pages import rows

FREE_ZH = {"warranty": "保修期内，客户无需付费", "contract": "服务合同内，客户无需付费"}


def _when(at: datetime | None, tz: str) -> str:
    return at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M") if at else "—"


def _first_move(ticket: Ticket, to: Status) -> datetime | None:
    return next(
        (
            e.at
            for e in ticket.history
            if e.action == "status_changed" and e.data.get("to") == to.value
        ),
        None,
    )


def _table(head: list[str], body: list[list[str]], num: set[int]) -> str:
    def cell(tag: str, i: int, value: str) -> str:
        return f"<{tag}{' class=num' if i in num else ''}>{escape(value)}</{tag}>"

    return (
        "<table><tr>"
        + "".join(cell("th", i, h) for i, h in enumerate(head))
        + "</tr>"
        + "".join(
            "<tr>" + "".join(cell("td", i, v) for i, v in enumerate(r)) + "</tr>" for r in body
        )
        + "</table>"
    )


async def report_body(
    uow: SqlUnitOfWork, ticket: Ticket, services: Any, *, signing: bool = False
) -> tuple[str, str]:
    """(title, HTML body) of the ticket's page; ``signing``: for the signing page (no link to
    itself, no print button)."""
    tz = services.desk.timezone
    requester = await uow.people.get(ticket.requester_id)
    engineer = await uow.people.get(ticket.assignee_id) if ticket.assignee_id else None
    asset = await uow.assets.get(ticket.asset_id) if ticket.asset_id else None
    signoff = await uow.signoffs.current(ticket.id)
    settlement = await uow.settlements.get(ticket.id)
    parts = await uow.settlements.parts_used(ticket.id)
    ticket_type = services.desk.ticket_type(ticket.type)
    done = last_move(ticket, Status.RESOLVED)
    finished = ticket.status in (Status.RESOLVED, Status.CLOSED)
    title = f"服务报告单 {ticket.ref}" if finished else f"工单 {ticket.ref} 进度"
    if signing:
        title = f"签字确认 {ticket.ref}"

    parts_html = ""
    if parts:
        parts_html = _table(
            ["备件", "数量", "单价"],
            [[f"{p.sku} {p.name}", str(p.qty), f"¥{p.unit_cost:.2f}"] for p in parts],
            {1, 2},
        )
    arrived_at, _, started_by = on_site_span(ticket)
    sections = [
        f"<h1>{escape(title)}</h1>",
        '<div class="card">'
        + rows(
            [
                ("工单", f"{ticket.ref} {ticket.title}"),
                ("类型", ticket_type.name if ticket_type else ticket.type),
                ("状态", STATUS_ZH[ticket.status]),
                (
                    "客户",
                    (asset.customer if asset and asset.customer else "")
                    or (requester.name if requester else "—"),
                ),
                ("联系人", requester.name if requester else "—"),
            ]
        )
        + "</div>",
    ]
    if asset:
        sections.append(
            '<div class="card"><h2>设备</h2>'
            + rows(
                [
                    ("编号", asset.id),
                    ("型号", asset.model),
                    ("地址", asset.site_address or "—"),
                    ("保修至", asset.warranty_end.isoformat() if asset.warranty_end else "—"),
                ]
            )
            + "</div>"
        )
    sections.append(
        '<div class="card"><h2>故障与处理</h2>'
        + rows(
            [
                ("故障描述", ticket.description or ticket.title),
                ("工程师", engineer.name if engineer else "待分配"),
                ("处理说明", str(done.data.get("summary", "")) if done else "—"),
            ]
        )
        + "</div>"
    )
    sections.append(
        '<div class="card"><h2>时间</h2>'
        + rows(
            [
                ("报修", _when(ticket.created_at, tz)),
                ("接单", _when(_first_move(ticket, Status.ACCEPTED), tz)),
                ("到场", _when(arrived_at, tz) if started_by == "arrived" else "—"),
                ("完工", _when(done.at if done else None, tz)),
                ("关闭", _when(ticket.closed_at, tz)),
            ]
        )
        + "</div>"
    )
    if parts_html:
        sections.append(f'<div class="card"><h2>备件</h2>{parts_html}</div>')
    if settlement:
        lines = [
            [KIND_ZH.get(line["kind"], line["kind"]), line["description"], f"¥{line['amount']}"]
            for line in settlement["lines"]
        ]
        lines.append(["", "合计", f"¥{settlement['total']}"])
        lines.append(["", "客户应付", f"¥{settlement['customer_pays']}"])
        free = FREE_ZH.get(settlement["free_reason"], "")
        sections.append(
            '<div class="card"><h2>费用</h2>'
            + _table(["类别", "项目", "金额"], lines, {2})
            + (f'<p class="muted">{escape(free)}</p>' if free else "")
            + "</div>"
        )
    if signoff and signoff.signed_at:
        image = services.relay.media_store.read(signoff.image_sha256)
        img = (
            f'<img class="signature" alt="客户签字" src="data:image/png;base64,'
            f'{base64.b64encode(image).decode()}">'
            if image
            else ""
        )
        sections.append(
            '<div class="card"><h2>客户签字</h2>'
            + img
            + rows([("签字人", signoff.signer), ("签字时间", _when(signoff.signed_at, tz))])
            + "</div>"
        )
    elif ticket.status is Status.CLOSED:
        close = last_move(ticket, Status.CLOSED)
        how = (
            "系统自动关闭（客户未答复）"
            if close and close.data.get("auto")
            else "客户已在聊天中确认"
        )
        sections.append(f'<div class="card"><h2>客户确认</h2>{escape(how)}</div>')
    elif ticket.status is Status.RESOLVED and signoff and not signing:
        base = services.settings.http.public_base_url.rstrip("/")
        sections.append(
            '<div class="card noprint"><h2>请确认</h2>工程师已完工，请核对后签字确认。'
            f'<a class="button" href="{escape(base)}/s/{escape(signoff.token)}">去签字确认</a>'
            "</div>"
        )
    if ticket.rating:
        rating = f"{ticket.rating} 分" + (
            f"：{ticket.rating_comment}" if ticket.rating_comment else ""
        )
        sections.append(f'<div class="card"><h2>评价</h2>{escape(rating)}</div>')
    if finished and not signing:
        sections.append(
            '<button class="noprint secondary" onclick="window.print()">打印 / 保存为 PDF</button>'
        )
    return title, "".join(sections)
