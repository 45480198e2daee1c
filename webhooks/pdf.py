"""The service report as PDF through WeasyPrint (maintained, on PyPI; it needs the system's
Pango). Nothing is fetched while rendering: only data: URLs (the signature) are allowed."""

from __future__ import annotations

import asyncio
from typing import Any


class PdfUnavailable(Exception):
    pass


def _render(html: str) -> bytes:
    try:
        from weasyprint import HTML
        from weasyprint.urls import URLFetcher
    except (ImportError, OSError) as exc:  # the package or the Pango library is missing
        raise PdfUnavailable(str(exc)) from exc
    fetcher = URLFetcher(allowed_protocols={"data"})  # the signature only; nothing remote
    return HTML(string=html, url_fetcher=fetcher).write_pdf()  # type: ignore[no-any-return]


async def html_to_pdf(html: str) -> bytes:
    return await asyncio.to_thread(_render, html)


async def pdf_response(title: str, html: str, name: str) -> Any:
    from aiohttp import web

    from webhooks.pages import message

    try:
        data = await html_to_pdf(html)
    except PdfUnavailable:
        return message(
            "PDF 不可用", "本服务器未安装 PDF 组件，请打开网页版并使用浏览器打印。", status=406
        )
    return web.Response(
        body=data,
        content_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}.pdf"'},
    )
