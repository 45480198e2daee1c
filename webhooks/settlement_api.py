"""REST for settlements and the field-service parts of a ticket (CONTRACT §10).

- GET /api/v1/settlements?month=YYYY-MM[&customer=...]&format=json|csv|xlsx: the statement;
- GET /api/v1/settlements/engineers?month=YYYY-MM&format=...: jobs, time on site and labour;
- GET /api/v1/tickets/{id}/report: the printable service report (HTML);
- GET /api/v1/tickets/{id}/signature.png: the customer's signature.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot import media
from bot.links import ticket_url
from core.errors import FieldError, NotFound, ValidationFailed
from core.settlement import statements as st
from core.tickets.model import Ticket
from core.uow import SqlUnitOfWork
from webhooks.bootstrap import action_secret
from webhooks.exports import csv_response, xlsx_response
from webhooks.keys import SERVICES
from webhooks.pages import document, page
from webhooks.pdf import pdf_response
from webhooks.report import report_body

FORMATS = ("json", "csv", "xlsx")


async def field_view(uow: SqlUnitOfWork, ticket: Ticket, services: Any) -> dict[str, Any]:
    """signature, settlement and the report links of one ticket, for its REST view."""
    base = services.settings.http.public_base_url.rstrip("/")
    signed = await uow.signoffs.signed(ticket.id)
    row = await uow.settlements.get(ticket.id)
    asset = await uow.assets.get(ticket.asset_id) if ticket.asset_id else None
    return {
        "customer": asset.customer if asset and asset.customer else None,
        "signature": {
            "signed_at": signed.signed_at.isoformat(),
            "signer": signed.signer,
            "image_url": f"{base}/api/v1/tickets/{ticket.id}/signature.png",
        }
        if signed and signed.signed_at
        else None,
        "settlement": {
            "lines": [
                {"kind": x["kind"], "description": x["description"], "amount": x["amount"]}
                for x in row["lines"]
            ],
            "total": row["total"],
            "customer_pays": row["customer_pays"],
            "free_reason": row["free_reason"] or None,
            "labour_minutes": row["labour_minutes"],
        }
        if row
        else None,
        "report_url": f"{base}/api/v1/tickets/{ticket.id}/report",
        "customer_url": ticket_url(base, action_secret(services.settings), ticket.id),
    }


def _query(request: web.Request) -> tuple[str, str]:
    q = request.query
    errors = []
    month, fmt = q.get("month", ""), q.get("format", "json")
    if not st.MONTH.match(month):
        errors.append(FieldError("month", "应为 YYYY-MM，例如 2026-11"))
    if fmt not in FORMATS:
        errors.append(FieldError("format", "应为 json、csv 或 xlsx"))
    if len(q.get("customer", "")) > 200:
        errors.append(FieldError("customer", "过长"))
    if errors:
        raise ValidationFailed(errors)
    return month, fmt


async def _rows(request: web.Request, month: str, customer: str | None) -> list[dict[str, Any]]:
    services = request.app[SERVICES]
    try:
        start, end = st.month_bounds(month, services.desk.timezone)
    except ValueError:
        raise ValidationFailed([FieldError("month", "应为 YYYY-MM，例如 2026-11")]) from None
    async with SqlUnitOfWork(services.engine) as uow:
        return await uow.settlements.closed_between(start, end, customer=customer)


def _names(request: web.Request) -> dict[str, str]:
    return {p.id: p.name for p in request.app[SERVICES].desk.people}


async def list_settlements(request: web.Request) -> web.Response:
    from webhooks.api import _json

    month, fmt = _query(request)
    customer = request.query.get("customer") or None
    rows = await _rows(request, month, customer)
    lines = st.statement(rows, tz=request.app[SERVICES].desk.timezone, names=_names(request))
    name = f"statement-{month}"
    if fmt == "csv":
        return csv_response(st.StatementLine.HEAD, [x.cells() for x in lines], name)
    if fmt == "xlsx":
        return xlsx_response(
            st.StatementLine.HEAD, [x.cells() for x in lines], name, title=f"{month} 结算单"
        )
    customers = sorted({x.customer for x in lines})
    return _json(
        {
            "month": month,
            "customer": customer,
            "items": [x.dump() for x in lines],
            "totals": st.totals(lines),
            "customers": [
                {"customer": c, **st.totals([x for x in lines if x.customer == c])}
                for c in customers
            ],
        }
    )


async def engineer_summary(request: web.Request) -> web.Response:
    from webhooks.api import _json

    month, fmt = _query(request)
    table = st.per_engineer(await _rows(request, month, None), _names(request))
    name = f"engineers-{month}"
    if fmt == "csv":
        return csv_response(st.ENGINEER_HEAD, table, name)
    if fmt == "xlsx":
        return xlsx_response(st.ENGINEER_HEAD, table, name, title=f"{month} 工程师")
    keys = ("engineer", "tickets", "minutes_on_site", "labour", "parts", "total")
    items = [
        {k: str(v) if k in keys[3:] else v for k, v in zip(keys, r, strict=True)} for r in table
    ]
    return _json({"month": month, "items": items})


def _ticket_id(request: web.Request) -> int:
    raw = request.match_info["id"].lstrip("#")
    if not raw.isdigit() or len(raw) > 12:
        raise NotFound(f"没有找到工单 {request.match_info['id'][:20]}")
    return int(raw)


async def service_report(request: web.Request) -> web.Response:
    return await report_page(request, _ticket_id(request))


async def report_page(request: web.Request, ticket_id: int) -> web.Response:
    services = request.app[SERVICES]
    async with SqlUnitOfWork(services.engine) as uow:
        ticket = await uow.tickets.get(ticket_id)
        if ticket is None:
            raise NotFound("没有找到这个工单")
        title, body = await report_body(uow, ticket, services)
    return page(title, body)


async def signature_image(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    async with SqlUnitOfWork(services.engine) as uow:
        signed = await uow.signoffs.signed(_ticket_id(request))
        found = await media.lookup(uow.conn, "signature", signed.image_sha256) if signed else None
    data = services.relay.media_store.read(found[0]) if found else None
    if data is None:
        raise NotFound("这个工单没有签字")
    return web.Response(body=data, content_type="image/png")


async def service_report_pdf(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    async with SqlUnitOfWork(services.engine) as uow:
        ticket = await uow.tickets.get(_ticket_id(request))
        if ticket is None:
            raise NotFound("没有找到这个工单")
        title, body = await report_body(uow, ticket, services)
    return await pdf_response(title, document(title, body), f"service-report-{ticket.id}")
