"""HTML for the public mobile pages: one layout, escaped values, nothing loaded from outside.

The pages work in the WeCom, DingTalk and WeChat in-app browsers: plain forms that post without
script, system fonts, a viewport for phones, and a print stylesheet for the service report.
"""

from __future__ import annotations

from html import escape

from aiohttp import web

CSS = """
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 -apple-system,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",
sans-serif;color:#1f2329;background:#f5f6f7}
main{max-width:640px;margin:0 auto;padding:16px}
h1{font-size:20px;margin:8px 0 12px}
h2{font-size:16px;margin:0 0 8px}
.card{background:#fff;border-radius:8px;padding:14px 16px;margin-bottom:12px}
label{display:block;font-weight:600;margin:12px 0 4px}
input[type=text],input[type=tel],textarea{width:100%;padding:10px;border:1px solid #c9cdd4;
border-radius:6px;font:inherit}
textarea{min-height:110px}
button,.button{display:block;width:100%;padding:12px;margin-top:16px;border:0;border-radius:6px;
background:#1664ff;color:#fff;font:inherit;font-size:17px;text-align:center;text-decoration:none}
button.secondary{background:#e5e6eb;color:#1f2329}
.muted{color:#646a73;font-size:14px}
.error{background:#fff1f0;color:#c00;border-radius:6px;padding:8px 12px;margin:8px 0}
.ok{background:#e8ffea;color:#0a7a2f;border-radius:6px;padding:8px 12px;margin:8px 0}
dl{display:grid;grid-template-columns:6.5em 1fr;gap:4px 8px;margin:0}
dt{color:#646a73}dd{margin:0;word-break:break-all;white-space:pre-line}
table{width:100%;border-collapse:collapse;font-size:14px}
th,td{border-bottom:1px solid #e5e6eb;padding:6px 4px;text-align:left}
td.num,th.num{text-align:right}
canvas{width:100%;height:200px;border:1px dashed #86909c;border-radius:6px;background:#fff;
touch-action:none}
img.signature{max-width:100%;max-height:160px}
@media print{body{background:#fff;font-size:12pt}main{max-width:none;padding:0}
.card{border-radius:0;padding:6pt 0;border-bottom:1px solid #999}.noprint{display:none}
@page{size:A4;margin:15mm}}
"""


def document(title: str, body: str, *, extra_head: str = "") -> str:
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(title)}</title><style>{CSS}</style>{extra_head}</head>"
        f"<body><main>{body}</main></body></html>"
    )


def page(title: str, body: str, *, status: int = 200, extra_head: str = "") -> web.Response:
    return web.Response(
        text=document(title, body, extra_head=extra_head),
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
            "style-src 'unsafe-inline'; script-src 'unsafe-inline'; form-action 'self'; "
            "frame-ancestors 'none'",
        },
    )


def message(title: str, text: str, *, status: int) -> web.Response:
    return page(
        title, f'<h1>{escape(title)}</h1><div class="card">{escape(text)}</div>', status=status
    )


def rows(pairs: list[tuple[str, str]]) -> str:
    return "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in pairs) + "</dl>"
