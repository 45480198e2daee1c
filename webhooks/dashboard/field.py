"""Field-service downloads on the dashboard: the month's statement and the per-engineer summary
(CSV, XLSX), a ticket's service report and the QR label sheet, for whoever may see /dashboard (demo, a manager's
session, an API token). The dashboard's forms need no script."""

from __future__ import annotations

from aiohttp import web

from webhooks.assets_api import labels
from webhooks.dashboard.routes import _who
from webhooks.errors import error_response
from webhooks.settlement_api import engineer_summary, list_settlements, report_page


def _denied() -> web.Response:
    return error_response(
        401, [{"field": "Authorization", "message": "请通过经理的看板链接或 API 令牌访问"}]
    )


async def settlements(request: web.Request) -> web.StreamResponse:
    """?month=YYYY-MM&format=csv|xlsx|json&view=customers|engineers"""
    if await _who(request) is None:
        return _denied()
    if request.query.get("view") == "engineers":
        return await engineer_summary(request)
    return await list_settlements(request)


async def report(request: web.Request) -> web.StreamResponse:
    """?ticket=12 (or #12): the printable service report of that ticket."""
    if await _who(request) is None:
        return _denied()
    raw = request.query.get("ticket", "").strip().lstrip("#")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        return error_response(422, [{"field": "ticket", "message": "请填写工单号，例如 12"}])
    return await report_page(request, int(raw))


async def qr_labels(request: web.Request) -> web.StreamResponse:
    """?ids=A,B (empty: every asset): the printable A4 QR label sheet."""
    if await _who(request) is None:
        return _denied()
    return await labels(request)


def setup_dashboard_field(app: web.Application) -> None:
    app.router.add_get("/dashboard/settlements", settlements)
    app.router.add_get("/dashboard/report", report)
    app.router.add_get("/dashboard/labels", qr_labels)
