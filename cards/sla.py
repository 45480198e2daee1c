"""SLA warning (预警) and breach (超时) cards, each with one button 知道了."""

from __future__ import annotations

from typing import Any

from cards.actions import ActionKind, ActionRef, Signer
from cards.model import Button, ButtonStyle, Card, Field

ACK_TEXT = "知道了"


def _ack(args: dict[str, Any], first_id: int, key: str, secret: Signer) -> tuple[Button, ...]:
    action = ActionRef(ActionKind.ACK, first_id, key, str(args.get("ack", ""))).encode(secret)
    return (Button(text=ACK_TEXT, action=action, style=ButtonStyle.PRIMARY),)


def warning_card(args: dict[str, Any], key: str, secret: Signer) -> Card:
    items = list(args.get("items", []))
    first = items[0] if items else {"id": 0, "title": "", "target": ""}
    ids = list(dict.fromkeys(int(i["id"]) for i in items))
    if len(ids) <= 1:
        title = f"SLA 预警 #{first['id']}"
        targets = "、".join(str(i["target"]) for i in items)
        summary = f"{first['title']}｜{targets}即将超时"
    else:
        title = f"SLA 预警：{len(ids)} 个工单"
        summary = "以下工单即将超时：" + "、".join(f"#{i}" for i in ids)
    fields = tuple(
        Field(label=f"#{i['id']} {i['target']}", value=f"{i['left']}，时限 {i['due']}")
        for i in items
    )
    return Card(
        key=key, title=title, summary=summary, fields=fields,
        buttons=_ack(args, int(first["id"]), key, secret), source="chatdesk SLA 预警",
    )  # fmt: skip


def breach_card(args: dict[str, Any], key: str, secret: Signer) -> Card:
    [item] = list(args.get("items", []))[:1] or [
        {"id": 0, "title": "", "target": "", "due": "", "left": ""}
    ]
    return Card(
        key=key,
        title=f"SLA 超时 #{item['id']}",
        summary=f"{item['title']}｜{item['target']}已超时",
        fields=(
            Field(label=f"{item['target']}时限", value=str(item["due"])),
            Field(label="状态", value=str(item["left"])),
        ),
        buttons=_ack(args, int(item["id"]), key, secret),
        source="chatdesk SLA 超时",
    )


BUILDERS = {"sla_warning": warning_card, "sla_breach": breach_card}
