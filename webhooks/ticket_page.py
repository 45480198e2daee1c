"""The ticket's public page /p/<id>.<mac>: progress for the customer while it is open, and the
printable service report (服务报告单) once finished. The link is an HMAC of the ticket id
(bot/links.py): it opens that ticket only."""

from __future__ import annotations

from html import escape

from aiohttp import web

from bot.links import ticket_from_token
from core.uow import SqlUnitOfWork
from webhooks.bootstrap import action_secret
from webhooks.keys import SERVICES
from webhooks.pages import document, message, page
from webhooks.pdf import pdf_response
from webhooks.report import report_body


async def _page(request: web.Request) -> tuple[str, str, int] | web.Response:
    services = request.app[SERVICES]
    ticket_id = ticket_from_token(action_secret(services.settings), request.match_info["token"])
    if ticket_id is None:
        return message("链接无效", "这个链接无效或已过期，请向服务商索取新的链接。", status=404)
    async with SqlUnitOfWork(services.engine) as uow:
        ticket = await uow.tickets.get(ticket_id)
        if ticket is None:
            return message("链接无效", "这个链接无效或已过期，请向服务商索取新的链接。", status=404)
        title, body = await report_body(uow, ticket, services)
    return title, body, ticket.id


async def ticket_page(request: web.Request) -> web.Response:
    found = await _page(request)
    if isinstance(found, web.Response):
        return found
    title, body, _ = found
    pdf = f'<a class="button secondary noprint" href="/p/{escape(request.match_info["token"])}/pdf">下载 PDF</a>'
    return page(title, body + pdf)


async def ticket_pdf(request: web.Request) -> web.Response:
    found = await _page(request)
    if isinstance(found, web.Response):
        return found
    title, body, ticket_id = found
    return await pdf_response(title, document(title, body), f"service-report-{ticket_id}")


def setup_ticket_page(app: web.Application) -> None:
    app.router.add_get("/p/{token}", ticket_page)
    app.router.add_get("/p/{token}/pdf", ticket_pdf)
