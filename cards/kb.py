"""Knowledge cards: search results (知识) and suggestions at intake (已解决 / 仍需报修)."""

from __future__ import annotations

from typing import Any

from cards.actions import ActionKind, ActionRef, Signer
from cards.model import Button, ButtonStyle, Card, Field

SOLVED_TEXT = "已解决"
MORE_TEXT = "仍需报修"
DRAFT_TEXT = "存为知识"
SOURCE = "chatdesk 知识库"


def _fields(args: dict[str, Any]) -> tuple[Field, ...]:
    """One linked line per article: its title, then its first lines (cut by the platform)."""
    return tuple(
        Field(
            label=f"{i}",
            value=f"{a.get('title', '')}：{a.get('summary', '')}".rstrip("："),
            url=str(a.get("url", "")),
        )
        for i, a in enumerate(args.get("articles", [])[:3], start=1)
    )


def _first_url(args: dict[str, Any]) -> str:
    articles = args.get("articles", [])
    return str(articles[0].get("url", "")) if articles else ""


def results_card(args: dict[str, Any], key: str, secret: Signer) -> Card:
    """args: query, articles [{id, title, summary, url}] (best first, at most three)."""
    articles = args.get("articles", [])
    return Card(
        key=key,
        title=f"知识库：{args.get('query', '')}",
        summary=f"找到 {len(articles)} 篇相关文章，点击标题查看",
        fields=_fields(args),
        url=_first_url(args),
        source=SOURCE,
    )


def suggest_card(args: dict[str, Any], key: str, secret: Signer) -> Card:
    """args: articles [{id, title, summary, url}]: shown before a ticket is created."""
    return Card(
        key=key,
        title="这些方法也许能解决您的问题",
        summary="如果按文章处理后已解决，请点“已解决”；否则点“仍需报修”，我们继续为您报修",
        fields=_fields(args),
        url=_first_url(args),
        source=SOURCE,
        buttons=(
            Button(
                text=SOLVED_TEXT,
                action=ActionRef(ActionKind.KB_SOLVED, 0, key).encode(secret),
                style=ButtonStyle.PRIMARY,
            ),
            Button(text=MORE_TEXT, action=ActionRef(ActionKind.KB_MORE, 0, key).encode(secret)),
        ),
    )


def offer_card(args: dict[str, Any], key: str, secret: Signer) -> Card:
    """args: id, title: sent to the engineer after 完工, offering 存为知识."""
    tid = int(args["id"])
    return Card(
        key=key,
        title=f"工单 #{tid} 已完工",
        summary=f"{args.get('title', '')}：如果这个处理方法以后用得上，可以存为知识（草稿，客服审核后发布）",
        source=SOURCE,
        buttons=(
            Button(
                text=DRAFT_TEXT,
                action=ActionRef(ActionKind.KB_DRAFT, tid, key).encode(secret),
                style=ButtonStyle.PRIMARY,
            ),
        ),
    )


BUILDERS = {"kb_results": results_card, "kb_suggest": suggest_card, "kb_offer": offer_card}
