"""Read models of assets: the REST view and the chat text of 查看设备."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from core.assets.model import Asset
from core.money import money
from core.tickets.model import ref
from core.tickets.workflow import STATUS_ZH, Status

FREE_ZH = {"warranty": "保修期内", "contract": "服务合同内"}


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value else None


def ticket_cost(item: dict[str, Any]) -> Decimal:
    """A ticket's cost: its settlement total once settled, else the parts approved so far."""
    if item.get("settled_total"):
        return money(item["settled_total"])
    return money(item.get("parts_cost") or 0)


def asset_view(
    asset: Asset, history: list[dict[str, Any]], *, urls: dict[str, str], today: date
) -> dict[str, Any]:
    """``urls``: report_url, qr_svg_url, qr_png_url (absolute)."""
    tickets = [
        {
            "id": item["id"],
            "ref": ref(item["id"]),
            "title": item["title"],
            "status": item["status"],
            "created_at": _iso(item["created_at"]),
            "closed_at": _iso(item["closed_at"]),
            "parts": item["parts"],
            "cost": str(ticket_cost(item)),
        }
        for item in history
    ]
    return {
        "id": asset.id,
        "model": asset.model,
        "customer": asset.customer,
        "site_address": asset.site_address,
        "region": asset.region,
        "install_date": _iso(asset.install_date),
        "warranty_end": _iso(asset.warranty_end),
        "contract_end": _iso(asset.contract_end),
        "notes": asset.notes,
        "under_warranty": asset.under_warranty(today),
        "under_contract": asset.under_contract(today),
        **urls,
        "tickets": tickets,
        "total_cost": str(sum((ticket_cost(i) for i in history), Decimal("0.00"))),
    }


def asset_summary(asset: Asset, *, urls: dict[str, str], today: date) -> dict[str, Any]:
    view = asset_view(asset, [], urls=urls, today=today)
    view.pop("tickets")
    view.pop("total_cost")
    return view


def asset_text(asset: Asset, history: list[dict[str, Any]], *, today: date, tz: str) -> str:
    """查看设备: the machine, its warranty and its last tickets (Chinese, short)."""
    if asset.warranty_end is None:
        warranty = "未登记"
    elif asset.under_warranty(today):
        warranty = f"保修期内（至 {asset.warranty_end.isoformat()}）"
    else:
        warranty = f"已过保（{asset.warranty_end.isoformat()} 到期）"
    lines = [
        f"设备 {asset.id}：{asset.model}",
        f"客户：{asset.customer or '—'}",
        f"地址：{asset.site_address or '—'}" + (f"（{asset.region}）" if asset.region else ""),
        f"保修：{warranty}",
    ]
    if asset.under_contract(today) and asset.contract_end:
        lines.append(f"服务合同：至 {asset.contract_end.isoformat()}")
    if asset.install_date:
        lines.append(f"安装日期：{asset.install_date.isoformat()}")
    if not history:
        lines.append("暂无维修记录。")
    else:
        lines.append(f"最近工单（共 {len(history)} 个）：")
        zone = ZoneInfo(tz)
        for item in history[:5]:
            day = item["created_at"].astimezone(zone).strftime("%Y-%m-%d")
            status = STATUS_ZH[Status(item["status"])]
            lines.append(f"· {ref(item['id'])} {day} {item['title']}（{status}）")
    return "\n".join(lines)
