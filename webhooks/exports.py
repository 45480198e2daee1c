"""CSV and XLSX (openpyxl, a maintained spreadsheet library) downloads of tables."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from aiohttp import web

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _cell(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def csv_response(
    head: list[str] | tuple[str, ...], rows: list[list[Any]], name: str
) -> web.Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(head)
    writer.writerows([[_cell(v) for v in r] for r in rows])
    return web.Response(
        body=("\ufeff" + out.getvalue()).encode(),  # BOM: Excel opens it as UTF-8
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def xlsx_response(
    head: list[str] | tuple[str, ...], rows: list[list[Any]], name: str, *, title: str
) -> web.Response:
    from openpyxl import Workbook  # imported at the first xlsx download

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    sheet.append(list(head))
    money_columns = set()
    for row in rows:
        sheet.append(list(row))  # Decimal cells are stored as exact numbers
        money_columns |= {i for i, v in enumerate(row) if isinstance(v, Decimal)}
    for i in money_columns:
        for cells in sheet.iter_rows(min_row=2, min_col=i + 1, max_col=i + 1):
            for cell in cells:
                cell.number_format = "#,##0.00"
    out = io.BytesIO()
    book.save(out)
    return web.Response(
        body=out.getvalue(),
        content_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
    )
