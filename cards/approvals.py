"""Parts approval card (同意 / 驳回) for the stock keepers, and its finished form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cards.actions import ActionKind, ActionRef, Signer
from cards.model import Button, ButtonStyle, Card, Field

APPROVE_TEXT = "同意"
REJECT_TEXT = "驳回"


@dataclass(frozen=True)
class Line:
    sku: str
    name: str
    qty: int
    unit_cost: float


@dataclass(frozen=True)
class RequestFacts:
    """What the approval card shows; built by the core from the request and the ticket."""

    ticket_id: int
    request_id: int
    title: str
    requested_by: str
    lines: tuple[Line, ...]
    cost: float


def approval_card(r: RequestFacts, *, key: str, secret: Signer) -> Card:
    arg = str(r.request_id)
    fields = [
        Field(label=f"{line.sku} {line.name}", value=f"×{line.qty}（单价 ¥{line.unit_cost:.2f}）")
        for line in r.lines
    ]
    fields.append(Field(label="合计", value=f"¥{r.cost:.2f}"))
    fields.append(Field(label="申请人", value=r.requested_by))
    return Card(
        key=key,
        title=f"备件申请 #{r.ticket_id}：{r.title}",
        summary=f"申请单 {r.request_id}，请审批",
        fields=tuple(fields),
        buttons=(
            Button(
                text=APPROVE_TEXT,
                action=ActionRef(ActionKind.APPROVE, r.ticket_id, key, arg).encode(secret),
                style=ButtonStyle.PRIMARY,
            ),
            Button(
                text=REJECT_TEXT,
                action=ActionRef(ActionKind.REJECT, r.ticket_id, key, arg).encode(secret),
                style=ButtonStyle.DANGER,
            ),
        ),
    )


def _approval(args: dict[str, Any], key: str, secret: Signer) -> Card:
    facts = RequestFacts(
        ticket_id=int(args["ticket_id"]),
        request_id=int(args["request_id"]),
        title=str(args.get("title", "")),
        requested_by=str(args.get("requested_by", "")),
        lines=tuple(Line(**line) for line in args.get("lines", [])),
        cost=float(args.get("cost", 0.0)),
    )
    return approval_card(facts, key=key, secret=secret)


BUILDERS = {"parts_approval": _approval}
