"""Ticket cards: assignment (接单 / 拒单) and its finished form."""

from __future__ import annotations

from dataclasses import dataclass

from cards.actions import ActionKind, ActionRef, Signer
from cards.model import Button, ButtonStyle, Card, Field

ACCEPT_TEXT = "接单"
DECLINE_TEXT = "拒单"
POOL_SUMMARY = "抢单：已同时发给多位工程师，先点“接单”者得"


@dataclass(frozen=True)
class TicketFacts:
    """What a ticket card shows; built by the caller from the ticket and the config."""

    id: int
    title: str
    type_name: str
    priority: str
    requester: str
    due: str
    device: str = ""
    address: str = ""
    pool: bool = False  # 抢单: the same card went to several engineers; the first 接单 wins


def _fields(t: TicketFacts) -> tuple[Field, ...]:
    fields = [Field(label="类型", value=t.type_name), Field(label="优先级", value=t.priority)]
    if t.device:
        fields.append(Field(label="设备", value=t.device))
    if t.address:
        fields.append(Field(label="地址", value=t.address))
    fields += [Field(label="报修人", value=t.requester), Field(label="响应时限", value=t.due)]
    return tuple(fields)


def assignment_card(t: TicketFacts, *, key: str, secret: Signer) -> Card:
    return Card(
        key=key,
        title=f"新工单 #{t.id}：{t.title}",
        summary=POOL_SUMMARY if t.pool else "请确认是否接单",
        fields=_fields(t),
        buttons=(
            Button(
                text=ACCEPT_TEXT,
                action=ActionRef(ActionKind.ACCEPT, t.id, key).encode(secret),
                style=ButtonStyle.PRIMARY,
            ),
            Button(
                text=DECLINE_TEXT,
                action=ActionRef(ActionKind.DECLINE, t.id, key).encode(secret),
                style=ButtonStyle.DANGER,
            ),
        ),
    )


def finished(card: Card, status: str) -> Card:
    """The same card with its buttons replaced by who did what."""
    return card.model_copy(update={"buttons": (), "status": status})


def _assignment(args: dict, key: str, secret: Signer) -> Card:
    return assignment_card(TicketFacts(**args), key=key, secret=secret)


BUILDERS = {"assignment": _assignment}
