"""The asset CSV: every bad row named by line and column, nothing half-imported, a round trip."""

from __future__ import annotations

from datetime import date

from core.assets.csvio import parse_csv, to_csv

GOOD = (
    "id,model,customer,site_address,region,install_date,warranty_end,notes\n"
    "HX-2000-01,HX-2000 注塑机,宁波华星塑业,宁波市北仑区 1 号,华东,2024-03-01,2027-02-28,二楼\n"
    "HX-2000-02,HX-2000 注塑机,宁波华星塑业,,华东,,,\n"
)


def test_good_file_gives_every_asset() -> None:
    assets, problems = parse_csv(GOOD)
    assert problems == []
    assert [a.id for a in assets] == ["HX-2000-01", "HX-2000-02"]
    first = assets[0]
    assert first.customer == "宁波华星塑业" and first.region == "华东"
    assert first.install_date == date(2024, 3, 1) and first.warranty_end == date(2027, 2, 28)
    assert assets[1].warranty_end is None and assets[1].site_address == ""


def test_bad_rows_are_all_named_and_nothing_is_returned() -> None:
    text = (
        "id,model,warranty_end\n"
        "A-1,M1,2027-01-01\n"
        "A-2,,2027-01-01\n"  # line 3: model empty
        "A-3,M3,2027-02-30\n"  # line 4: no such date
        "a-1,M4,\n"  # line 5: duplicate of line 2 (ids ignore case)
        "bad id,M5,\n"  # line 6: space in the id
        "A-7,M7\n"  # line 7: too few columns
    )
    assets, problems = parse_csv(text)
    assert assets == []
    named = {(p.line, p.column) for p in problems}
    assert named == {(3, "model"), (4, "warranty_end"), (5, "id"), (6, "id"), (7, "-")}
    assert "第 2 行" in next(p.message for p in problems if p.line == 5)


def test_header_needs_id_and_model_and_known_columns() -> None:
    _, problems = parse_csv("id,modle\nA-1,M\n")
    assert {(p.line, p.column) for p in problems} == {(1, "model"), (1, "modle")}
    _, problems = parse_csv("")
    assert problems and problems[0].line == 1


def test_quoted_multiline_cells_count_physical_lines() -> None:
    text = 'id,model,notes\nA-1,M,"two\nlines"\nA-2,,x\n'
    _, problems = parse_csv(text)
    assert [(p.line, p.column) for p in problems] == [(4, "model")]


def test_bom_and_round_trip() -> None:
    assets, _ = parse_csv("\ufeff" + GOOD)
    again, problems = parse_csv(to_csv(assets))
    assert problems == [] and again == assets
