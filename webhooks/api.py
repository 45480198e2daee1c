"""REST API /api/v1 (CONTRACT §4): bearer tokens, pydantic bodies, generated OpenAPI."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from bot import media
from core import db
from core.errors import FieldError, NotFound, ValidationFailed
from core.inputs import MAX_JSON_DEPTH, PG_INT_MAX, ascii_int, loads_bounded, nul_path
from core.messages import Actor, Channel
from core.people.directory import identify
from core.tickets.commands import (
    AddNote,
    AssignTicket,
    ChangePriority,
    ChangeStatus,
    OpenTicket,
)
from core.tickets.repository import TicketFilter
from core.tickets.views import ticket_detail, ticket_summary
from core.tickets.workflow import Status
from core.uow import SqlUnitOfWork
from webhooks import cursor
from webhooks.assets_api import get_asset, get_qr_png, get_qr_svg, labels, list_assets, revoke_token
from webhooks.errors import error_response, from_validation
from webhooks.keys import SERVICES
from webhooks.paging import read_page
from webhooks.schemas import (
    AssetList,
    AssetOut,
    AssignIn,
    ErrorOut,
    NoteIn,
    PartList,
    PriorityChange,
    StatusChange,
    TicketCreate,
    TicketList,
    TicketOut,
)
from webhooks.settlement_api import (
    engineer_summary,
    field_view,
    list_settlements,
    service_report,
    service_report_pdf,
    signature_image,
)

PREFIX = "/api/v1"
NUL_MESSAGE = "不能包含 NUL 字符（\\u0000）"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    params: tuple[tuple[str, str, str], ...] = ()  # (name, in, type)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


async def _body(request: web.Request, model: type[BaseModel]) -> Any:
    raw = await request.read()
    try:
        data = loads_bounded(raw or b"null")
    except (ValueError, RecursionError):  # bad UTF-8 or JSON, or nested too deep
        message = f"请求体不是有效的 JSON（嵌套不超过 {MAX_JSON_DEPTH} 层）"
        raise _Stop(error_response(400, [{"field": "body", "message": message}])) from None
    if not isinstance(data, dict):
        raise _Stop(error_response(422, [{"field": "body", "message": "请求体应为 JSON 对象"}]))
    where = nul_path(data)
    if where:
        raise _Stop(error_response(422, [{"field": where, "message": NUL_MESSAGE}]))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _Stop(from_validation(exc)) from None


class _Stop(Exception):
    def __init__(self, response: web.Response) -> None:
        self.response = response


def _ticket_id(request: web.Request) -> int:
    number = ascii_int(request.match_info["id"].lstrip("#"), lo=1)
    if number is None:
        raise NotFound(f"没有找到工单 {request.match_info['id'][:32]}")
    return number


def _caller(request: web.Request) -> Actor:
    return Actor(person_id="api", name="API", roles=frozenset({"agent"}), channel=Channel.API)


async def create_ticket(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    body: TicketCreate = await _body(request, TicketCreate)
    requester_id = "api"
    if body.requester is not None:
        async with SqlUnitOfWork(services.engine) as uow:
            person = await identify(
                uow.people,
                uow.conn,
                platform=body.requester.platform,
                user_id=body.requester.user_id,
                display_name=body.requester.name,
                at=services.clock.now(),
            )
            await uow.commit()
        requester_id = person.id
    reply_platform = ""
    if body.requester is not None and body.requester.platform in services.platforms:
        reply_platform = body.requester.platform
    ticket = await services.bus.handle(
        OpenTicket(
            actor=_caller(request),
            requester_id=requester_id,
            title=body.title,
            description=body.description,
            type=body.type,
            priority=body.priority,
            fields=body.fields,
            reply_platform=reply_platform,
            reply_user_id=body.requester.user_id if body.requester else "",
        )
    )
    services.wake_outbox()
    return _json(await _detail(services, ticket), status=201)


async def list_tickets(request: web.Request) -> web.Response:
    """Newest first. Page on with ``cursor`` (the previous answer's ``next_cursor``: keyset, as
    fast on the last page as on the first); ``count=true`` adds ``total``. ``offset`` still
    works but reads every skipped row."""
    services = request.app[SERVICES]
    q = request.query
    errors: list[FieldError] = []
    statuses = [s for s in q.get("status", "").split(",") if s]
    for s in statuses:
        if s not in Status._value2member_map_:
            errors.append(FieldError("status", f"未知的状态 {s}"))
    page = read_page(q, errors, kind="t", decode=cursor.decode)
    offset = ascii_int(q.get("offset", "0"), lo=0, hi=PG_INT_MAX)
    if offset is None:
        errors.append(FieldError("offset", f"应为 0 到 {PG_INT_MAX} 的整数"))
    if errors or page.limit is None or offset is None:
        raise ValidationFailed(errors)
    flt = TicketFilter(
        status=statuses or None,
        assignee_id=q.get("assignee") or None,
        requester_id=q.get("requester") or None,
        type=q.get("type") or None,
        limit=page.limit + 1,  # one more tells whether a next page exists
        offset=offset,
        before_id=page.after,
    )
    async with SqlUnitOfWork(services.engine) as uow:
        found = await uow.tickets.page(flt)
        total = await uow.tickets.count(flt) if page.count else None
    tickets, next_cursor = page.cut(found, lambda t: t.id)
    body: dict[str, Any] = {
        "items": [ticket_summary(t) for t in tickets],
        "limit": page.limit,
        "offset": offset,
        "next_cursor": next_cursor,
    }
    if total is not None:
        body["total"] = total
    return _json(body)


async def get_ticket(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    ticket_id = _ticket_id(request)
    async with SqlUnitOfWork(services.engine) as uow:
        ticket = await uow.tickets.get(ticket_id)
        clocks = await uow.sla.get(ticket_id) if ticket is not None else {}
        if ticket is None:
            raise NotFound(f"没有找到工单 #{ticket_id}")
        return _json(
            {
                **ticket_detail(ticket, services.clock.now(), clocks),
                **await field_view(uow, ticket, services),
            }
        )


async def _run(request: web.Request, command: Any) -> web.Response:
    services = request.app[SERVICES]
    ticket = await services.bus.handle(command)
    services.wake_outbox()
    return _json(await _detail(services, ticket))


async def _detail(services: Any, ticket: Any) -> dict[str, Any]:
    """The ticket as the API shows it, with its SLA clocks as just committed."""
    async with SqlUnitOfWork(services.engine) as uow:
        extra = await field_view(uow, ticket, services)
        clocks = await uow.sla.get(ticket.id)
    return {**ticket_detail(ticket, services.clock.now(), clocks), **extra}


async def change_priority(request: web.Request) -> web.Response:
    ticket_id = _ticket_id(request)
    body: PriorityChange = await _body(request, PriorityChange)
    return await _run(
        request,
        ChangePriority(
            actor=_caller(request), ticket_id=ticket_id, priority=body.priority, note=body.note
        ),
    )


async def change_status(request: web.Request) -> web.Response:
    ticket_id = _ticket_id(request)
    body: StatusChange = await _body(request, StatusChange)
    return await _run(
        request,
        ChangeStatus(
            actor=_caller(request), ticket_id=ticket_id, status=body.status, note=body.note
        ),
    )


async def assign(request: web.Request) -> web.Response:
    ticket_id = _ticket_id(request)
    body: AssignIn = await _body(request, AssignIn)
    return await _run(
        request,
        AssignTicket(
            actor=_caller(request), ticket_id=ticket_id, assignee_id=body.assignee, note=body.note
        ),
    )


async def add_note(request: web.Request) -> web.Response:
    ticket_id = _ticket_id(request)
    body: NoteIn = await _body(request, NoteIn)
    return await _run(
        request,
        AddNote(
            actor=_caller(request), ticket_id=ticket_id, text=body.text, internal=body.internal
        ),
    )


async def list_parts(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    async with services.engine.connect() as conn:
        rows = await conn.execute(select(db.parts).order_by(db.parts.c.sku))
        items = [
            {k: r._mapping[k] for k in ("sku", "name", "stock", "unit_cost", "min_stock", "unit")}
            for r in rows
        ]
    return _json({"items": items})


async def get_media(request: web.Request) -> web.Response:
    """A photo or file a person sent in chat, as fetched from the platform."""
    services = request.app[SERVICES]
    platform, media_id = request.match_info["platform"], request.match_info["media_id"]
    async with services.engine.connect() as conn:
        found = await media.lookup(conn, platform, media_id)
    data = (
        services.relay.media_store.read(found[0]) if found and services.relay.media_store else None
    )
    if found is None or data is None:
        raise NotFound("没有找到这个文件（可能尚未从聊天平台取回）")
    return web.Response(
        body=data, content_type=found[1], headers={"Cache-Control": "private, max-age=86400"}
    )


_ID = (("id", "path", "integer"),)
_ASSET = (("asset_id", "path", "string"),)
_IDS = (("ids", "query", "string"),)
ROUTES: tuple[Route, ...] = (
    Route("POST", "/tickets", create_ticket, "Create a ticket", TicketCreate, TicketOut, 201),
    Route(
        "GET",
        "/tickets",
        list_tickets,
        "List tickets, newest first: pass the answer's next_cursor as cursor for the next page "
        "(offset is kept for old callers but reads every skipped row); count=true adds total",
        None,
        TicketList,
        params=(
            ("status", "query", "string"),
            ("assignee", "query", "string"),
            ("requester", "query", "string"),
            ("type", "query", "string"),
            ("limit", "query", "integer"),
            ("cursor", "query", "string"),
            ("count", "query", "boolean"),
            ("offset", "query", "integer"),
        ),
    ),
    Route(
        "GET",
        "/tickets/{id}",
        get_ticket,
        "One ticket with its history",
        None,
        TicketOut,
        params=_ID,
    ),
    Route(
        "POST",
        "/tickets/{id}/status",
        change_status,
        "Change status",
        StatusChange,
        TicketOut,
        params=_ID,
    ),
    Route(
        "POST",
        "/tickets/{id}/priority",
        change_priority,
        "Change priority (the SLA clocks are recomputed from the ticket's creation)",
        PriorityChange,
        TicketOut,
        params=_ID,
    ),
    Route(
        "POST",
        "/tickets/{id}/assign",
        assign,
        "Assign to an engineer",
        AssignIn,
        TicketOut,
        params=_ID,
    ),
    Route("POST", "/tickets/{id}/notes", add_note, "Add a note", NoteIn, TicketOut, params=_ID),
    Route("GET", "/parts", list_parts, "Spare parts and stock", None, PartList),
    Route(
        "GET",
        "/assets",
        list_assets,
        "The asset registry by id (format=json|csv): every asset, or with limit a page of them "
        "(pass the answer's next_cursor as cursor for the next page); count=true adds total",
        None,
        AssetList,
        params=(
            ("format", "query", "string"),
            ("limit", "query", "integer"),
            ("cursor", "query", "string"),
            ("count", "query", "boolean"),
        ),
    ),
    Route("GET", "/assets/labels", labels, "Printable A4 QR label sheet (HTML)", params=_IDS),
    Route(
        "GET",
        "/assets/{asset_id}",
        get_asset,
        "One asset with its service history",
        None,
        AssetOut,
        params=_ASSET,
    ),
    Route("GET", "/assets/{asset_id}/qr.svg", get_qr_svg, "QR code (SVG)", params=_ASSET),
    Route("GET", "/assets/{asset_id}/qr.png", get_qr_png, "QR code (PNG)", params=_ASSET),
    Route(
        "POST",
        "/assets/{asset_id}/token/revoke",
        revoke_token,
        "Revoke the QR code's token (a new one is issued)",
        params=_ASSET,
    ),
    Route(
        "GET",
        "/settlements",
        list_settlements,
        "Monthly statement (format=json|csv|xlsx)",
        params=(
            ("month", "query", "string"),
            ("customer", "query", "string"),
            ("format", "query", "string"),
        ),
    ),
    Route(
        "GET",
        "/settlements/engineers",
        engineer_summary,
        "Per-engineer jobs, time on site and labour (format=json|csv|xlsx)",
        params=(("month", "query", "string"), ("format", "query", "string")),
    ),
    Route(
        "GET", "/tickets/{id}/report", service_report, "Printable service report (HTML)", params=_ID
    ),
    Route(
        "GET",
        "/tickets/{id}/report.pdf",
        service_report_pdf,
        "Service report as PDF (WeasyPrint)",
        params=_ID,
    ),
    Route(
        "GET",
        "/tickets/{id}/signature.png",
        signature_image,
        "The customer's signature",
        params=_ID,
    ),
    Route(
        "GET",
        "/media/{platform}/{media_id}",
        get_media,
        "A photo or file sent in chat (binary)",
        params=(("platform", "path", "string"), ("media_id", "path", "string")),
    ),
)


def all_routes() -> tuple[Route, ...]:
    from webhooks.kb_api import kb_routes  # it builds on this module's helpers

    return ROUTES + kb_routes()


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def openapi_document() -> dict[str, Any]:
    components: dict[str, Any] = {}
    error_ref = _schema(ErrorOut, components)
    paths: dict[str, Any] = {}
    for route in all_routes():
        op: dict[str, Any] = {
            "summary": route.summary,
            "operationId": route.handler.__name__,
            "security": [{"bearer": []}],
            "responses": {
                str(route.status): {
                    "description": "OK",
                    "content": {"application/json": {"schema": _schema(route.response, components)}}
                    if route.response
                    else {},
                },
                **{
                    str(code): {
                        "description": desc,
                        "content": {"application/json": {"schema": error_ref}},
                    }
                    for code, desc in (
                        (400, "malformed request (JSON body, pagination cursor)"),
                        (401, "missing or invalid token"),
                        (404, "not found"),
                        (409, "conflict / illegal transition"),
                        (422, "validation error"),
                    )
                },
            },
        }
        if route.body:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _schema(route.body, components)}},
            }
        if route.params:
            op["parameters"] = [
                {"name": n, "in": where, "required": where == "path", "schema": {"type": t}}
                for n, where, t in route.params
            ]
        paths.setdefault(PREFIX + route.path, {})[route.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "chatdesk API", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _token_ok(request: web.Request) -> bool:
    """``Bearer`` + one space + the token, exactly: nothing is trimmed or case-folded."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer ") or not header.isascii():
        return False
    return api_token_valid(request.app[SERVICES].settings.api_tokens, header[7:])


def api_token_valid(tokens: list[Any], given_token: str) -> bool:
    """Whether ``given_token`` is one of the configured API tokens (constant time)."""
    if not given_token.isascii():
        return False
    given = hashlib.sha256(given_token.encode("ascii")).digest()
    ok = False
    for token in tokens:
        expected = hashlib.sha256(token.get_secret_value().encode()).digest()
        ok |= hmac.compare_digest(given, expected)
    return ok


def _guard(handler: Handler) -> Handler:
    async def guarded(request: web.Request) -> web.StreamResponse:
        if not _token_ok(request):
            return error_response(
                401, [{"field": "Authorization", "message": "缺少或无效的访问令牌（Bearer token）"}]
            )
        where = nul_path({**request.match_info, **request.query})
        if where:  # PostgreSQL refuses NUL in text: never let one reach a query
            return error_response(422, [{"field": where, "message": NUL_MESSAGE}])
        try:
            return await handler(request)
        except (_Stop, cursor.BadCursor) as stop:
            return stop.response

    guarded.__name__ = handler.__name__
    return guarded


async def openapi(request: web.Request) -> web.Response:
    return _json(openapi_document())


def setup_api(app: web.Application) -> None:
    app.router.add_get(PREFIX + "/openapi.json", openapi)
    for route in all_routes():
        app.router.add_route(route.method, PREFIX + route.path, _guard(route.handler))
