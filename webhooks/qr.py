"""QR codes (segno, a maintained pure-Python QR library) and the printable A4 label sheet."""

from __future__ import annotations

import io
from html import escape
from typing import Any


def _qr(url: str) -> Any:
    import segno  # imported at the first QR code (not every process draws one)

    return segno.make(url, error="m")


def qr_svg(url: str, *, scale: int = 4) -> bytes:
    out = io.BytesIO()
    _qr(url).save(out, kind="svg", scale=scale, border=2, xmldecl=True)
    return out.getvalue()


def qr_png(url: str, *, scale: int = 8) -> bytes:
    out = io.BytesIO()
    _qr(url).save(out, kind="png", scale=scale, border=2)
    return out.getvalue()


def _inline_svg(url: str) -> str:
    out = io.BytesIO()
    _qr(url).save(out, kind="svg", scale=4, border=2, xmldecl=False, svgns=True, omitsize=True)
    return out.getvalue().decode()


LABEL_CSS = """
@page { size: A4; margin: 10mm; }
* { box-sizing: border-box; }
body { font-family: "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif; margin: 0; }
.sheet { display: grid; grid-template-columns: repeat(3, 1fr); gap: 4mm; }
.label { border: 1px dashed #999; padding: 3mm; text-align: center; height: 66mm;
         break-inside: avoid; page-break-inside: avoid; }
.label svg { width: 42mm; height: 42mm; }
.id { font: bold 14pt monospace; margin-top: 1mm; }
.hint { font-size: 9pt; color: #333; }
.model { font-size: 8pt; color: #666; }
@media screen { body { padding: 10mm; background: #eee; } .sheet { background: #fff; } }
"""


def label_sheet(labels: list[tuple[str, str, str]], *, company: str = "") -> str:
    """labels: (asset id, model, report url). Three columns by four rows per A4 page."""
    cells = "\n".join(
        f'<div class="label">{_inline_svg(url)}'
        f'<div class="id">{escape(asset_id)}</div>'
        f'<div class="model">{escape(model)}</div>'
        f'<div class="hint">扫码报修{" · " + escape(company) if company else ""}</div></div>'
        for asset_id, model, url in labels
    )
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>设备二维码标签（{len(labels)} 张）</title><style>{LABEL_CSS}</style></head>"
        f'<body><div class="sheet">{cells}</div></body></html>'
    )
