"""Turning typed names and SKUs into catalogue lines, and the approval card (同意 / 驳回)."""

from __future__ import annotations

from cards.actions import ActionKind, ActionRef, Signer
from cards.registry import build
from core.parts.model import Part, Unresolved, find_part, resolve_lines, total_cost

CATALOGUE = [
    Part(sku="LX-01", name="滤芯", stock=10, unit_cost=85.0),
    Part(sku="LX-02", name="空气滤芯", stock=5, unit_cost=40.0),
    Part(sku="MF-03", name="密封圈", stock=2, unit_cost=12.5),
    Part(sku="MF-04", name="密封垫", stock=20, unit_cost=3.0),
    Part(sku="Belt-A", name="V-Belt", stock=1, unit_cost=60.0),
]


def test_sku_and_names_are_case_insensitive() -> None:
    assert find_part(CATALOGUE, "lx-02") == CATALOGUE[1]
    assert find_part(CATALOGUE, "v-belt") == CATALOGUE[4]
    assert find_part(CATALOGUE, " 滤芯 ") == CATALOGUE[0]  # exact name beats 空气滤芯


def test_a_unique_fragment_is_enough_several_or_none_are_unresolved() -> None:
    assert find_part(CATALOGUE, "空气") == CATALOGUE[1]
    several = find_part(CATALOGUE, "密封")
    assert isinstance(several, Unresolved)
    assert [p.sku for p in several.options] == ["MF-03", "MF-04"]
    assert find_part(CATALOGUE, "齿轮") == Unresolved("齿轮")


def test_the_same_part_twice_adds_up_and_costs_are_summed() -> None:
    lines, problems = resolve_lines(
        CATALOGUE, (("LX-01", 2), ("滤芯", 1), ("mf-03", 2), ("齿轮", 1))
    )
    assert [(x.sku, x.qty) for x in lines] == [("LX-01", 3), ("MF-03", 2)]
    assert problems == [Unresolved("齿轮")]
    assert total_cost(lines) == 280.0


def test_approval_card_has_signed_approve_and_reject_buttons_naming_the_request() -> None:
    args = {
        "ticket_id": 12,
        "request_id": 7,
        "title": "空压机漏油",
        "requested_by": "张伟",
        "lines": [{"sku": "LX-01", "name": "滤芯", "qty": 2, "unit_cost": 85.0}],
        "cost": 170.0,
    }
    card = build(
        {"builder": "parts_approval", "args": args},
        key="t12_parts_7_ku1",
        secret=Signer(b"k", "wecom:ku1", 2_000_000_000),
    )
    assert "#12" in card.title
    assert [b.text for b in card.buttons] == ["同意", "驳回"]
    refs = [ActionRef.decode(b.action, b"k", recipient="wecom:ku1", now=0) for b in card.buttons]
    assert [(r.kind, r.ticket_id, r.card_key, r.arg) for r in refs] == [
        (ActionKind.APPROVE, 12, "t12_parts_7_ku1", "7"),
        (ActionKind.REJECT, 12, "t12_parts_7_ku1", "7"),
    ]
    assert ("合计", "¥170.00") in [(f.label, f.value) for f in card.fields]
    done = build(
        {"builder": "parts_approval", "args": args, "status": "库管甲 已同意（06-10 10:00）"},
        key="t12_parts_7_ku1",
        secret=Signer(b"k", "wecom:ku1", 2_000_000_000),
    )
    assert done.buttons == () and "已同意" in done.status
