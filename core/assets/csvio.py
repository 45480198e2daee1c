"""CSV import and export of the asset registry (CONTRACT §10).

``parse_csv`` checks every row before anything is written: it returns the assets, or the
problems named by line (1 is the header) and column, so the import is all or nothing.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date

from core.assets.model import ASSET_ID, Asset, asset_key

COLUMNS = (
    "id",
    "model",
    "customer",
    "site_address",
    "region",
    "install_date",
    "warranty_end",
    "contract_end",
    "notes",
)
REQUIRED = ("id", "model")
DATES = ("install_date", "warranty_end", "contract_end")
LIMITS = {"model": 200, "customer": 200, "site_address": 500, "region": 100, "notes": 4000}


@dataclass(frozen=True)
class RowProblem:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"第 {self.line} 行，列 {self.column}：{self.message}"


def _date(text: str) -> date:
    if len(text) != 10:
        raise ValueError
    return date.fromisoformat(text)


def parse_csv(text: str) -> tuple[list[Asset], list[RowProblem]]:
    """All assets of the file, or every problem found (then the list of assets is empty)."""
    if text.startswith("\ufeff"):
        text = text[1:]  # Excel writes a BOM
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return [], [RowProblem(1, "id", "文件为空，第一行应为表头（至少 id, model）")]
    except csv.Error as exc:
        return [], [RowProblem(1, "-", f"CSV 格式错误：{exc}")]
    problems: list[RowProblem] = []
    for name in REQUIRED:
        if name not in header:
            problems.append(RowProblem(1, name, "表头缺少必填列"))
    for name in header:
        if name not in COLUMNS:
            problems.append(RowProblem(1, name or "-", f"未知的列，可用：{', '.join(COLUMNS)}"))
    if len(set(header)) != len(header):
        problems.append(RowProblem(1, "-", "表头有重复的列"))
    if problems:
        return [], problems
    assets: list[Asset] = []
    seen: dict[str, int] = {}
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                problems.append(RowProblem(line, "-", f"应有 {len(header)} 列，实际 {len(row)} 列"))
                continue
            values = {name: cell.strip() for name, cell in zip(header, row, strict=True)}
            asset = _row(values, line, problems, seen)
            if asset is not None:
                assets.append(asset)
    except csv.Error as exc:
        problems.append(RowProblem(reader.line_num, "-", f"CSV 格式错误：{exc}"))
    if problems:
        return [], problems
    return assets, []


def _row(
    values: dict[str, str], line: int, problems: list[RowProblem], seen: dict[str, int]
) -> Asset | None:
    before = len(problems)
    asset_id = values.get("id", "")
    if not ASSET_ID.match(asset_id):
        problems.append(
            RowProblem(line, "id", "编号应为 1–64 位字母、数字或 - _ .，以字母或数字开头")
        )
    elif asset_key(asset_id) in seen:
        problems.append(
            RowProblem(line, "id", f"编号 {asset_id} 与第 {seen[asset_key(asset_id)]} 行重复")
        )
    else:
        seen[asset_key(asset_id)] = line
    if not values.get("model"):
        problems.append(RowProblem(line, "model", "型号不能为空"))
    for name, limit in LIMITS.items():
        if len(values.get(name, "")) > limit:
            problems.append(RowProblem(line, name, f"不能超过 {limit} 个字"))
    dates: dict[str, date | None] = {}
    for name in DATES:
        raw = values.get(name, "")
        try:
            dates[name] = _date(raw) if raw else None
        except ValueError:
            problems.append(RowProblem(line, name, f"日期 {raw!r} 应为 YYYY-MM-DD"))
    if len(problems) > before:
        return None
    return Asset(
        id=asset_id,
        model=values["model"],
        customer=values.get("customer", ""),
        site_address=values.get("site_address", ""),
        region=values.get("region", ""),
        install_date=dates.get("install_date"),
        warranty_end=dates.get("warranty_end"),
        contract_end=dates.get("contract_end"),
        notes=values.get("notes", ""),
    )


def to_csv(assets: list[Asset]) -> str:
    """The registry as CSV with every column, readable by ``parse_csv`` (a round trip)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for a in assets:
        writer.writerow(
            [
                a.id,
                a.model,
                a.customer,
                a.site_address,
                a.region,
                *(d.isoformat() if d else "" for d in (a.install_date, a.warranty_end)),
                a.contract_end.isoformat() if a.contract_end else "",
                a.notes,
            ]
        )
    return out.getvalue()
