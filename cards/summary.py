"""The managers' summary card (统计 今天|本周|本月 and the daily digest): figures, no buttons."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cards.actions import Signer
from cards.model import Card, Field

PERIOD_ZH = {"today": "今天", "week": "本周", "month": "本月"}


def duration(seconds: float | None) -> str:
    """1天2小时 / 3小时5分 / 12分 / —."""
    if seconds is None:
        return "—"
    minutes = max(round(seconds / 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}天{hours}小时"
    if hours:
        return f"{hours}小时{mins}分"
    return f"{mins}分"


def percent(met: int, total: int) -> str:
    return f"{met * 100 / total:.0f}%（{met}/{total}）" if total else "—"


def _money_fields(args: dict[str, Any]) -> tuple[Field, ...]:
    """营收 / 成本 from the settlements of the period (strings, exact)."""
    if "revenue" not in args:
        return ()
    return (
        Field(label="营收", value=f"¥{Decimal(args['revenue']):,.2f}"),
        Field(
            label="成本", value=f"¥{Decimal(args['cost']):,.2f}（{args.get('settled', 0)} 单结算）"
        ),
    )


def _knowledge_fields(args: dict[str, Any]) -> tuple[Field, ...]:
    """自助解决 (deflections at intake), 热门知识 (page views), 知识缺口 (searches with no answer)."""
    kb = args.get("kb")
    if not kb:
        return ()
    solved = f"{kb.get('deflected', 0)}（推荐 {kb.get('suggested', 0)} 次）"
    top = "，".join(f"{a['title']} {a['views']}" for a in kb.get("top_viewed", [])) or "—"
    gaps = "，".join(f"{g['query']}×{g['count']}" for g in kb.get("gaps", [])) or "—"
    return (
        Field(label="自助解决", value=solved),
        Field(label="热门知识", value=top),
        Field(label="知识缺口", value=gaps),
    )


def _sla_fields(args: dict[str, Any]) -> tuple[Field, ...]:
    """SLA 响应 / 到场 / 解决 attainment and the tickets now at risk (core/sla/report.py)."""
    fields = [
        Field(label=f"SLA {name}", value=percent(int(met), int(total)))
        for name, met, total in args.get("sla_targets", []) or []
    ]
    if "at_risk_total" in args:
        shown = "、".join(args.get("at_risk", []) or [])
        more = "…" if int(args["at_risk_total"]) > len(args.get("at_risk", []) or []) else ""
        value = f"{args['at_risk_total']}（{shown}{more}）" if shown else "0"
        fields.append(Field(label="预警中", value=value))
    return tuple(fields)


def summary_card(args: dict[str, Any], key: str, secret: Signer) -> Card:
    """args: see core/reports/summary.py ``summary_card_args``."""
    label = PERIOD_ZH.get(str(args.get("period", "")), str(args.get("period", "")))
    open_by = args.get("open_by_status", []) or []
    open_text = "，".join(f"{name} {n}" for name, n in open_by) or "无"
    top = args.get("top_engineers", []) or []
    top_text = "，".join(f"{name} {n}" for name, n in top) or "—"
    avg = args.get("avg_rating")
    rating = f"{avg:.1f}（{args.get('rated', 0)} 条）" if avg is not None else "—"
    fields = (
        Field(label="新建", value=str(args.get("created", 0))),
        Field(label="关闭", value=str(args.get("closed", 0))),
        Field(label="未结", value=f"{args.get('open_total', 0)}（{open_text}）"),
        Field(label="超期", value=str(args.get("overdue", 0))),
        Field(label="SLA达成", value=percent(args.get("sla_met", 0), args.get("sla_total", 0))),
        Field(label="平均评分", value=rating),
        Field(label="首次响应", value=duration(args.get("first_response_s"))),
        Field(label="解决用时", value=duration(args.get("resolution_s"))),
        Field(label="备件成本", value=f"¥{float(args.get('parts_cost', 0) or 0):,.2f}"),
        Field(label="工程师", value=top_text),
        *_money_fields(args),
        *_knowledge_fields(args),
        *_sla_fields(args),
    )
    return Card(
        key=key,
        title=f"服务统计 · {label}",
        summary=f"{args.get('start', '')} 至 {args.get('end', '')}",
        fields=fields,
        url=str(args.get("dashboard_url", "")),
        url_text="打开管理看板" if args.get("dashboard_url") else "",
    )


BUILDERS = {"summary": summary_card}
