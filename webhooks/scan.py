"""Scan to report (扫码报修, CONTRACT §10): /r/<token> for a registered machine, /r without one.

GET shows a mobile form; POST (urlencoded or multipart with photos) creates the ticket with
channel ``web`` for the person behind the phone number and answers with its #n and a link to
follow it. Rate-limited per address and per phone number through the cache port.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import escape
from typing import Any

from aiohttp import BodyPartReader, web

from bot import media
from bot.links import ticket_url
from core.assets.model import Asset
from core.errors import DomainError, ValidationFailed
from core.messages import Actor, Channel
from core.people.directory import identify
from core.settings import DeskConfig, FieldType, TicketTypeConfig
from core.tickets.commands import OpenTicket
from core.uow import SqlUnitOfWork
from webhooks.bootstrap import action_secret
from webhooks.keys import SERVICES
from webhooks.pages import message, page, rows

TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
PHONE = re.compile(r"^1[3-9]\d{9}$")
TEXT_LIMIT = 64 * 1024
HOUR = 3600.0


@dataclass
class ReportForm:
    description: str = ""
    phone: str = ""
    name: str = ""
    device: str = ""
    photos: list[tuple[bytes, str]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def normalise_phone(raw: str) -> str:
    digits = re.sub(r"[\s\-()]", "", raw)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    return digits


async def read_form(request: web.Request, *, max_photos: int, max_bytes: int) -> ReportForm:
    form = ReportForm()
    values: dict[str, str] = {}
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "photos" and part.filename is not None:
                data = await part.read(decode=True)
                if not data:
                    continue
                if len(data) > max_bytes:
                    form.errors["photos"] = f"每张照片不能超过 {max_bytes // 1024 // 1024} MB"
                elif len(form.photos) >= max_photos:
                    form.errors["photos"] = f"最多上传 {max_photos} 张照片"
                else:
                    kind = media.sniff(data, part.headers.get("Content-Type", ""))
                    if not kind.startswith("image/"):
                        form.errors["photos"] = "只能上传照片（JPEG、PNG、GIF、WebP）"
                    else:
                        form.photos.append((data, kind))
            elif part.name:
                raw = await part.read(decode=True)
                if len(raw) > TEXT_LIMIT:
                    raise web.HTTPRequestEntityTooLarge(max_size=TEXT_LIMIT, actual_size=len(raw))
                values[part.name] = raw.decode("utf-8", errors="replace")
    else:
        posted = await request.post()
        values = {k: v for k, v in posted.items() if isinstance(v, str)}
    form.description = values.get("description", "").strip()[:2000]
    form.phone = normalise_phone(values.get("phone", ""))
    form.name = values.get("name", "").strip()[:50]
    form.device = values.get("device", "").strip()[:64]
    if not form.description:
        form.errors["description"] = "请描述故障现象"
    if not PHONE.match(form.phone):
        form.errors["phone"] = "请填写正确的手机号（11 位，1 开头）"
    return form


def choose_type(
    desk: DeskConfig, asset: Asset | None, form: ReportForm, photo_ids: list[str]
) -> tuple[TicketTypeConfig, dict[str, Any]]:
    """The first ticket type whose required fields the form can fill (repair for a machine)."""
    device = asset.id if asset else form.device
    for ticket_type in desk.ticket_types:
        values: dict[str, Any] = {}
        fillable = True
        described = False
        for spec in ticket_type.fields:
            if spec.type is FieldType.ASSET and device:
                values[spec.key] = device
            elif spec.type is FieldType.IMAGES and photo_ids and "photos" not in values:
                values[spec.key] = photo_ids
            elif spec.key == "address" and asset and asset.site_address:
                values[spec.key] = asset.site_address[: spec.max_length]
            elif spec.type is FieldType.TEXT and spec.required and not described:
                values[spec.key] = form.description[: spec.max_length]
                described = True
            elif spec.required:
                fillable = False
        if fillable:
            return ticket_type, values
    return desk.ticket_types[0], {}


def form_page(
    asset: Asset | None, form: ReportForm | None = None, *, status: int = 200, notice: str = ""
) -> web.Response:
    form = form or ReportForm()
    err = form.errors

    def error(key: str) -> str:
        return f'<div class="error">{escape(err[key])}</div>' if key in err else ""

    machine = (
        '<div class="card">'
        + rows(
            [
                ("设备编号", asset.id),
                ("型号", asset.model),
                ("客户", asset.customer or "—"),
                ("地址", asset.site_address or "—"),
            ]
        )
        + "</div>"
        if asset
        else '<label for="device">设备编号（铭牌上，可不填）</label>'
        f'<input type="text" id="device" name="device" maxlength="64" value="{escape(form.device)}">'
    )
    body = (
        f"<h1>扫码报修{'：' + escape(asset.id) if asset else ''}</h1>"
        + (f'<div class="error">{escape(notice)}</div>' if notice else "")
        + f'<form method="post" enctype="multipart/form-data">{machine if asset else ""}'
        + '<div class="card">'
        + ("" if asset else machine)
        + '<label for="description">故障描述（必填）</label>'
        + error("description")
        + '<textarea id="description" name="description" maxlength="2000" required '
        f'placeholder="例如：开机报警 E31，无法合模">{escape(form.description)}</textarea>'
        + '<label for="photos">现场照片（可选）</label>'
        + error("photos")
        + '<input type="file" id="photos" name="photos" accept="image/*" multiple>'
        + '<label for="phone">手机号（必填，用于联系您）</label>'
        + error("phone")
        + '<input type="tel" id="phone" name="phone" maxlength="20" required '
        f'inputmode="numeric" value="{escape(form.phone)}">'
        + '<label for="name">您的称呼（可选）</label>'
        + f'<input type="text" id="name" name="name" maxlength="50" value="{escape(form.name)}">'
        + '<button type="submit">提交报修</button></div></form>'
        + '<p class="muted">提交后会显示工单号和查看进度的链接，请保存。</p>'
    )
    return page("扫码报修", body, status=status)


async def _asset(request: web.Request) -> Asset | None:
    token = request.match_info.get("token", "")
    if not TOKEN.match(token):
        return None
    async with SqlUnitOfWork(request.app[SERVICES].engine) as uow:
        return await uow.assets.by_token(token)


def _gone() -> web.Response:
    return message(
        "二维码已失效", "这个报修二维码无效或已停用，请联系服务商获取新的二维码。", status=404
    )


async def show_form(request: web.Request) -> web.Response:
    if "token" in request.match_info:
        asset = await _asset(request)
        if asset is None:
            return _gone()
        return form_page(asset)
    return form_page(None)


async def _over_limit(request: web.Request, key: str, limit: int) -> bool:
    cache = request.app[SERVICES].cache
    return await cache.incr(f"webform:{key}", 1, ttl=HOUR) > limit


async def submit(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    limits = services.settings.web_forms
    asset = None
    if "token" in request.match_info:
        asset = await _asset(request)
        if asset is None:
            return _gone()
    address = request.remote or "unknown"
    if await _over_limit(request, f"addr:{address}", limits.per_address_per_hour):
        return message(
            "提交过于频繁", "您提交得太频繁了，请稍后再试或直接致电服务热线。", status=429
        )
    form = await read_form(request, max_photos=limits.max_photos, max_bytes=limits.max_photo_bytes)
    if form.errors:
        return form_page(asset, form, status=422)
    if await _over_limit(request, f"phone:{form.phone}", limits.per_phone_per_hour):
        return message("提交过于频繁", "这个手机号提交的报修太多了，请稍后再试。", status=429)
    now = services.clock.now()
    photo_ids: list[str] = []
    async with SqlUnitOfWork(services.engine) as uow:
        for data, kind in form.photos:
            digest = services.relay.media_store.save(data)
            await media.record(
                uow.conn, platform="web", media_id=digest, sha256=digest, content_type=kind,
                size=len(data), at=now,
            )  # fmt: skip
            photo_ids.append(digest)
        person = await identify(
            uow.people,
            uow.conn,
            platform="web",
            user_id=form.phone,
            display_name=form.name or f"客户{form.phone[-4:]}",
            at=now,
        )
        await uow.commit()
    ticket_type, fields = choose_type(services.desk, asset, form, photo_ids)
    title = form.description.splitlines()[0][:60]
    actor = Actor(person_id=person.id, name=person.name, channel=Channel.WEB)
    try:
        ticket = await services.bus.handle(
            OpenTicket(
                actor=actor,
                requester_id=person.id,
                title=f"{asset.id} {title}" if asset else title,
                description=f"{form.description}\n联系电话：{form.phone}",
                type=ticket_type.key,
                fields=fields,
            )
        )
    except ValidationFailed as exc:
        form.errors["description"] = "；".join(e.message for e in exc.errors)
        return form_page(asset, form, status=422)
    except DomainError as exc:
        return form_page(asset, form, status=exc.status, notice=exc.message)
    services.wake_outbox()
    link = ticket_url(
        services.settings.http.public_base_url, action_secret(services.settings), ticket.id
    )
    body = (
        f'<h1>报修成功：工单 {escape(ticket.ref)}</h1><div class="card">'
        f'<div class="ok">已收到您的报修，工单号 <b>{escape(ticket.ref)}</b>，我们会尽快安排工程师联系您。</div>'
        + rows([("设备", asset.id if asset else form.device or "—"), ("联系电话", form.phone)])
        + f'<a class="button" href="{escape(link)}">查看工单进度</a>'
        + f'<p class="muted">请保存此链接：{escape(link)}</p></div>'
    )
    return page(f"报修成功 {ticket.ref}", body)


def setup_scan(app: web.Application) -> None:
    app.router.add_get("/r", show_form)
    app.router.add_post("/r", submit)
    app.router.add_get("/r/{token}", show_form)
    app.router.add_post("/r/{token}", submit)
