"""Completion card (确认完成 / 未解决) and satisfaction card (5分 … 1分), for the customer."""

from __future__ import annotations

from typing import Any

from cards.actions import ActionKind, ActionRef, Signer
from cards.model import Button, ButtonStyle, Card, Field

CONFIRM_TEXT = "确认完成"
REOPEN_TEXT = "未解决"
SCORES = (5, 4, 3, 2, 1)


def score_text(score: int) -> str:
    return f"{score}分"


def completion_card(args: dict[str, Any], key: str, secret: Signer) -> Card:
    """args: id, title, engineer, summary, photos (count), resolved (time text)."""
    tid = int(args["id"])
    fields = [
        Field(label="工程师", value=str(args.get("engineer", "")) or "—"),
        Field(label="完工时间", value=str(args.get("resolved", "")) or "—"),
        Field(label="处理说明", value=str(args.get("summary", "")) or "—"),
    ]
    photos = int(args.get("photos", 0) or 0)
    if photos:
        fields.append(Field(label="现场照片", value=f"{photos} 张"))
    if args.get("sign_url"):
        fields.append(Field(label="签字确认", value="点此签字确认完工", url=str(args["sign_url"])))
    return Card(
        key=key,
        title=f"工单 #{tid} 已完工：{args.get('title', '')}",
        summary="请确认问题是否已解决",
        fields=tuple(fields),
        buttons=(
            Button(
                text=CONFIRM_TEXT,
                action=ActionRef(ActionKind.CONFIRM, tid, key).encode(secret),
                style=ButtonStyle.PRIMARY,
            ),
            Button(
                text=REOPEN_TEXT,
                action=ActionRef(ActionKind.REOPEN, tid, key).encode(secret),
                style=ButtonStyle.DANGER,
            ),
        ),
    )


def satisfaction_card(args: dict[str, Any], key: str, secret: Signer) -> Card:
    """args: id, title, engineer."""
    tid = int(args["id"])
    return Card(
        key=key,
        title=f"请为工单 #{tid} 的服务打分",
        summary=str(args.get("title", "")),
        fields=(Field(label="工程师", value=str(args.get("engineer", "")) or "—"),),
        buttons=tuple(
            Button(
                text=score_text(score),
                action=ActionRef(ActionKind.RATE, tid, key, str(score)).encode(secret),
                style=ButtonStyle.PRIMARY if score == 5 else ButtonStyle.DEFAULT,
            )
            for score in SCORES
        ),
    )


BUILDERS = {"completion": completion_card, "satisfaction": satisfaction_card}
