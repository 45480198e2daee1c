"""REST for the asset registry (CONTRACT §10): list, one asset with its service history, QR codes
(SVG, PNG), a printable label sheet, CSV export, and revoking a QR code's token."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from core.assets.csvio import to_csv
from core.assets.model import ASSET_ID, Asset, asset_key
from core.assets.views import asset_summary, asset_view
from core.errors import FieldError, NotFound, ValidationFailed
from core.uow import SqlUnitOfWork
from webhooks import cursor
from webhooks.keys import SERVICES
from webhooks.paging import read_page
from webhooks.qr import label_sheet, qr_png, qr_svg

MAX_LABELS = 300


def base_url(request: web.Request) -> str:
    return request.app[SERVICES].settings.http.public_base_url.rstrip("/")


def asset_urls(request: web.Request, asset: Asset, token: str) -> dict[str, str]:
    base = base_url(request)
    return {
        "report_url": f"{base}/r/{token}",
        "qr_svg_url": f"{base}/api/v1/assets/{asset.id}/qr.svg",
        "qr_png_url": f"{base}/api/v1/assets/{asset.id}/qr.png",
    }


def _today(request: web.Request) -> Any:
    services = request.app[SERVICES]
    return services.clock.now().astimezone(ZoneInfo(services.desk.timezone)).date()


def _asset_id(request: web.Request) -> str:
    raw = request.match_info["asset_id"]
    if not ASSET_ID.match(raw):
        raise NotFound(f"没有找到设备 {raw[:64]}")
    return raw


async def _load(uow: SqlUnitOfWork, asset_id: str) -> Asset:
    asset = await uow.assets.get(asset_id)
    if asset is None:
        raise NotFound(f"没有找到设备 {asset_id}")
    return asset


async def list_assets(request: web.Request) -> web.StreamResponse:
    """Every asset by id, or a page of them when ``limit`` or ``cursor`` is given (keyset, as
    the other lists); ``count=true`` adds ``total``. ``format=csv`` exports every asset."""
    from webhooks.api import _json

    services = request.app[SERVICES]
    fmt = request.query.get("format", "json")
    errors: list[FieldError] = []
    if fmt not in ("json", "csv"):
        errors.append(FieldError("format", "应为 json 或 csv"))
    page = read_page(request.query, errors, kind="a", decode=cursor.decode_text, default_limit=None)
    if fmt == "csv" and ({"limit", "cursor", "count"} & request.query.keys()):
        errors.append(
            FieldError("format", "CSV 导出总是全部设备，不分页（limit/cursor/count 只用于 JSON）")
        )
    if errors:
        raise ValidationFailed(errors)
    after = page.after
    async with SqlUnitOfWork(services.engine) as uow:
        found = await uow.assets.list(limit=page.fetch, after=after)
        if fmt == "csv":
            return web.Response(
                body=("\ufeff" + to_csv(found)).encode(),
                content_type="text/csv",
                charset="utf-8",
                headers={"Content-Disposition": 'attachment; filename="assets.csv"'},
            )
        total = await uow.assets.count() if page.count else None
        assets, next_cursor = page.cut(found, lambda a: asset_key(a.id))
        items = []
        for asset in assets:
            token = await uow.assets.token_for(asset.id, at=services.clock.now())
            urls = asset_urls(request, asset, token)
            items.append(asset_summary(asset, urls=urls, today=_today(request)))
        await uow.commit()
    body: dict[str, Any] = {"items": items, "next_cursor": next_cursor}
    if total is not None:
        body["total"] = total
    return _json(body)


async def get_asset(request: web.Request) -> web.Response:
    from webhooks.api import _json

    services = request.app[SERVICES]
    async with SqlUnitOfWork(services.engine) as uow:
        asset = await _load(uow, _asset_id(request))
        token = await uow.assets.token_for(asset.id, at=services.clock.now())
        history = await uow.assets.history(asset.id)
        await uow.commit()
    return _json(
        asset_view(asset, history, urls=asset_urls(request, asset, token), today=_today(request))
    )


async def _report_url(request: web.Request) -> tuple[Asset, str]:
    services = request.app[SERVICES]
    async with SqlUnitOfWork(services.engine) as uow:
        asset = await _load(uow, _asset_id(request))
        token = await uow.assets.token_for(asset.id, at=services.clock.now())
        await uow.commit()
    return asset, f"{base_url(request)}/r/{token}"


async def get_qr_svg(request: web.Request) -> web.Response:
    _, url = await _report_url(request)
    return web.Response(body=qr_svg(url), content_type="image/svg+xml")


async def get_qr_png(request: web.Request) -> web.Response:
    _, url = await _report_url(request)
    return web.Response(body=qr_png(url), content_type="image/png")


async def revoke_token(request: web.Request) -> web.Response:
    """The printed code is refused from now on; the next QR code carries a new token."""
    from webhooks.api import _json

    services = request.app[SERVICES]
    async with SqlUnitOfWork(services.engine) as uow:
        asset = await _load(uow, _asset_id(request))
        revoked = await uow.assets.revoke_tokens(asset.id, at=services.clock.now())
        token = await uow.assets.token_for(asset.id, at=services.clock.now())
        await uow.commit()
    return _json({"id": asset.id, "revoked": revoked, **asset_urls(request, asset, token)})


async def labels(request: web.Request) -> web.Response:
    """A4 label sheet: ``ids=A,B,C`` (default: every asset), the asset id under each code."""
    services = request.app[SERVICES]
    wanted = [i.strip() for i in request.query.get("ids", "").split(",") if i.strip()]
    bad = [i for i in wanted if not ASSET_ID.match(i)]
    if bad or len(wanted) > MAX_LABELS:
        raise ValidationFailed([FieldError("ids", f"设备编号有误或超过 {MAX_LABELS} 个")])
    async with SqlUnitOfWork(services.engine) as uow:
        if wanted:
            found = [await uow.assets.get(i) for i in wanted]
            missing = [i for i, a in zip(wanted, found, strict=True) if a is None]
            if missing:
                raise NotFound(f"没有找到设备 {'、'.join(missing)}")
            assets = [a for a in found if a is not None]
        else:
            assets = await uow.assets.list(limit=MAX_LABELS)
        rows = []
        for asset in assets:
            token = await uow.assets.token_for(asset.id, at=services.clock.now())
            rows.append((asset.id, asset.model, f"{base_url(request)}/r/{token}"))
        await uow.commit()
    return web.Response(text=label_sheet(rows), content_type="text/html", charset="utf-8")
