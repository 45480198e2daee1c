"""Mount the public field-service pages: /r (scan to report), /s (sign), /p (ticket page)."""

from __future__ import annotations

from aiohttp import web

from webhooks.dashboard.field import setup_dashboard_field
from webhooks.scan import setup_scan
from webhooks.signing import setup_signing
from webhooks.ticket_page import setup_ticket_page


def setup_field_pages(app: web.Application) -> None:
    setup_scan(app)
    setup_signing(app)
    setup_ticket_page(app)
    setup_dashboard_field(app)
