"""Settlement arithmetic: Decimal yuan (never floats), rounding to the fen, warranty and
contract jobs free to the customer but costed, labour by time or fixed fee, statements."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from core.assets.model import Asset
from core.money import money
from core.settings import DeskConfig, SettlementConfig
from core.settlement import statements as st
from core.settlement.calc import PartUse, billable_minutes, settle

CFG = SettlementConfig(
    labour_rates={"junior": Decimal("133.33"), "senior": Decimal("180")},
    default_level="senior",
    fixed_fees={"maintenance": Decimal("300")},
    travel_fees={"华东": Decimal("80")},
    default_travel_fee=Decimal("50.5"),
)
FILTER = PartUse(sku="LX-01", name="滤芯", qty=3, unit_cost=Decimal("85.1"))


def test_labour_parts_travel_in_decimal_rounded_to_the_fen() -> None:
    s = settle(
        minutes=95, level="junior", ticket_type="repair", parts=[FILTER], region="华东",
        free_reason="", cfg=CFG,
    )  # fmt: skip
    labour, parts, travel = s.lines
    # 95 minutes → billed per started 15 minutes = 105 minutes = 1.75 h × 133.33 = 233.3275
    assert labour.kind == "labour" and labour.amount == Decimal("233.33")
    assert labour.unit_price == Decimal("133.33") and labour.quantity == "1.75 小时"
    assert parts.amount == Decimal("255.30")  # 3 × 85.10, not 255.29999999999998
    assert travel.amount == Decimal("80.00")
    assert s.total == Decimal("568.63") and s.customer_pays == s.total
    assert all(isinstance(line.amount, Decimal) for line in s.lines)
    assert [line.dump()["amount"] for line in s.lines] == ["233.33", "255.30", "80.00"]


def test_half_a_fen_rounds_up() -> None:
    cfg = SettlementConfig(labour_rates={"x": Decimal("0.3")}, default_level="x",
                           billing_increment_minutes=1, minimum_minutes=0)  # fmt: skip
    # 0.3 yuan/h × 1/60 h = 0.005 → 0.01 (half up), a float would give 0.0049999…
    s = settle(minutes=1, level="x", ticket_type="t", parts=[], region="", free_reason="", cfg=cfg)
    assert s.lines[0].amount == Decimal("0.01")
    assert money(2.675) == Decimal("2.68")  # float input goes through its repr, not binary


def test_warranty_and_contract_are_free_to_the_customer_but_costed() -> None:
    for reason in ("warranty", "contract"):
        s = settle(minutes=60, level="senior", ticket_type="repair", parts=[FILTER], region="",
                   free_reason=reason, cfg=CFG)  # fmt: skip
        assert s.total == Decimal("180.00") + Decimal("255.30") + Decimal("50.50")
        assert s.customer_pays == Decimal("0.00") and str(s.customer_pays) == "0.00"


def test_fixed_fee_per_type_and_minimum_and_unknown_level() -> None:
    s = settle(minutes=600, level="junior", ticket_type="maintenance", parts=[], region="华东",
               free_reason="", cfg=CFG)  # fmt: skip
    assert s.lines[0].amount == Decimal("300.00") and s.total == Decimal("380.00")
    assert billable_minutes(0, CFG) == 30 and billable_minutes(31, CFG) == 45
    s = settle(minutes=10, level="nobody", ticket_type="repair", parts=[], region="华东",
               free_reason="", cfg=CFG)  # fmt: skip
    assert s.lines[0].amount == Decimal("90.00")  # minimum 30 min at the default level (180/h)


def test_asset_warranty_dates() -> None:
    a = Asset(id="A", model="M", warranty_end=date(2026, 6, 30), contract_end=date(2027, 1, 1))
    assert a.free_reason(date(2026, 6, 30)) == "warranty"
    assert a.free_reason(date(2026, 7, 1)) == "contract"
    assert a.free_reason(date(2027, 1, 2)) == ""


def test_yaml_numbers_are_read_exactly_and_negative_rates_refused() -> None:
    desk = DeskConfig.model_validate(
        {
            "settlement": {
                "labour_rates": {"a": 133.33},
                "default_level": "a",
                "travel_fees": {"华东": 0.1},
            }
        }
    )
    assert desk.settlement.labour_rates["a"] == Decimal("133.33")
    assert desk.settlement.travel_fees["华东"] == Decimal("0.1")
    with pytest.raises(ValueError):
        SettlementConfig(labour_rates={"a": Decimal("-1")}, default_level="a")
    with pytest.raises(ValueError):
        DeskConfig.model_validate(
            {"people": [{"id": "z", "name": "Z", "roles": ["engineer"], "level": "guru"}]}
        )


def test_month_bounds_in_the_desk_zone_and_bad_months() -> None:
    start, end = st.month_bounds("2026-12", "Asia/Shanghai")
    assert start == datetime(2026, 11, 30, 16, tzinfo=UTC)
    assert end == datetime(2026, 12, 31, 16, tzinfo=UTC)
    for bad in ("2026-13", "2026-1", "26-01", "2026-00", "abcd-ef", "1999-01"):
        with pytest.raises(ValueError):
            st.month_bounds(bad, "Asia/Shanghai")


def _row(tid: int, customer: str, engineer: str, lines: list[tuple[str, str]], free: str = ""):
    total = str(money(sum((Decimal(a) for _, a in lines), Decimal(0))))
    return {
        "ticket_id": tid, "customer": customer, "engineer_id": engineer,
        "closed_at": datetime(2026, 11, 3, 2, tzinfo=UTC), "labour_minutes": 60,
        "lines": [{"kind": k, "description": k, "amount": a} for k, a in lines],
        "total": total, "customer_pays": "0.00" if free else total, "free_reason": free,
        "title": "t", "asset_id": "A",
    }  # fmt: skip


def test_statement_totals_per_engineer_and_revenue_cost() -> None:
    rows = [
        _row(1, "华星", "zhang", [("labour", "100.10"), ("parts", "0.20")]),
        _row(2, "华星", "zhang", [("labour", "0.10"), ("travel", "80.00")], free="warranty"),
        _row(3, "远大", "wang", [("labour", "50.00")]),
    ]
    lines = st.statement(rows, tz="Asia/Shanghai", names={"zhang": "张伟"})
    assert lines[0].closed == "2026-11-03 10:00" and lines[0].engineer == "张伟"
    assert lines[1].free_reason == "保修" and lines[1].customer_pays == Decimal("0.00")
    assert st.totals(lines) == {
        "labour": "150.20", "parts": "0.20", "travel": "80.00", "total": "230.40",
        "customer_pays": "150.30",
    }  # fmt: skip
    assert st.per_engineer(rows, {"zhang": "张伟"}) == [
        ["张伟", 2, 120, Decimal("100.20"), Decimal("0.20"), Decimal("180.40")],
        ["wang", 1, 60, Decimal("50.00"), Decimal("0.00"), Decimal("50.00")],
    ]
    assert st.revenue_and_cost(rows) == (Decimal("150.30"), Decimal("230.40"))
