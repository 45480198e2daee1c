"""HTTP side of the sandbox: the page, its small JSON API, the live feed, the fake platforms.

The page's API only turns a person's action into a platform callback (``callbacks.py``) sent
to chatdesk's real webhook; it never touches the core. It accepts JSON bodies only (so another
site cannot post a form to it) and validates the person, card and button it is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from webhooks.errors import error_response
from webhooks.keys import SERVICES
from webhooks.sandbox import seed
from webhooks.sandbox.callbacks import CallbackSender
from webhooks.sandbox.fake_dingtalk import FakeDingtalkApi
from webhooks.sandbox.fake_wecom import FakeWecomApi
from webhooks.sandbox.hub import Hub
from webhooks.sandbox.workspace import FAKE_PREFIX, DemoPerson, demo_people, internal_base
from webhooks.settings import Settings
from webhooks.static_files import package_file, static_handler

PLATFORMS = ("wecom", "dingtalk")
MAX_TEXT = 2000
MAX_PHOTO = 5 * 1024 * 1024
PHOTO_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}
STATIC = {
    "sandbox.js": ("sandbox.js", "application/javascript", "no-cache"),
    "sandbox.css": ("sandbox.css", "text/css", "no-cache"),
}


@dataclass
class Sandbox:
    hub: Hub
    wecom: FakeWecomApi
    dingtalk: FakeDingtalkApi
    people: dict[str, DemoPerson]
    sender: CallbackSender | None = None


SANDBOX: web.AppKey[Sandbox] = web.AppKey("sandbox")


def _bad(status: int, field: str, message: str) -> web.Response:
    return error_response(status, [{"field": field, "message": message}])


async def page(request: web.Request) -> web.Response:
    body = package_file("webhooks.sandbox", "sandbox.html")
    return web.Response(body=body, content_type="text/html", charset="utf-8")


async def state(request: web.Request) -> web.Response:
    box = request.app[SANDBOX]
    return web.json_response(
        {
            "people": [p.as_json() for p in box.people.values()],
            "user_ids": {
                p.id: {pf: p.user_id(pf) for pf in PLATFORMS} for p in box.people.values()
            },
            "entries": box.hub.snapshot(),
        },
        dumps=lambda o: json.dumps(o, ensure_ascii=False),
    )


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: every new or changed chat entry, and resets."""
    hub = request.app[SANDBOX].hub
    resp = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await resp.prepare(request)
    queue = hub.subscribe()
    try:
        await resp.write(b"retry: 1000\n\n")
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), 15)
            except TimeoutError:
                await resp.write(b": keep-alive\n\n")
                continue
            data = json.dumps(event, ensure_ascii=False)
            await resp.write(f"data: {data}\n\n".encode())
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        hub.unsubscribe(queue)
    return resp


async def _json_body(request: web.Request) -> dict[str, Any] | web.Response:
    if request.content_type != "application/json":
        return _bad(415, "body", "请以 application/json 提交")
    try:
        body = await request.json()
    except ValueError:
        return _bad(400, "body", "请求体不是有效的 JSON")
    if not isinstance(body, dict):
        return _bad(400, "body", "请求体应为 JSON 对象")
    return body


def _who(box: Sandbox, body: dict[str, Any]) -> tuple[str, DemoPerson] | web.Response:
    platform, pid = body.get("platform"), body.get("person")
    if platform not in PLATFORMS:
        return _bad(422, "platform", "platform 应为 wecom 或 dingtalk")
    person = box.people.get(pid) if isinstance(pid, str) else None
    if person is None:
        return _bad(422, "person", "没有这位演示人员")
    return str(platform), person


def _sent(status: int) -> web.Response:
    if status >= 400:
        return _bad(502, "callback", f"chatdesk 拒绝了回调（HTTP {status}）")
    return web.json_response({"ok": True, "callback_status": status})


async def _acting(
    request: web.Request,
) -> tuple[Sandbox, dict[str, Any], str, DemoPerson] | web.Response:
    """The JSON body of a person's action, with its platform and person checked."""
    box = request.app[SANDBOX]
    body = await _json_body(request)
    if isinstance(body, web.Response):
        return body
    who = _who(box, body)
    if isinstance(who, web.Response):
        return who
    return box, body, who[0], who[1]


async def say(request: web.Request) -> web.Response:
    acting = await _acting(request)
    if isinstance(acting, web.Response):
        return acting
    box, body, platform, person = acting
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        return _bad(422, "text", "请输入消息")
    if len(text) > MAX_TEXT:
        return _bad(422, "text", f"消息不能超过 {MAX_TEXT} 字")
    assert box.sender is not None
    user = person.user_id(platform)
    box.hub.add(platform, user, "me", "text", text=text)
    if platform == "wecom":
        status = await box.sender.wecom_text(user, text)
    else:
        status = await box.sender.dingtalk_text(user, person.name, text)
    return _sent(status)


async def photo(request: web.Request) -> web.Response:
    box = request.app[SANDBOX]
    if not request.content_type.startswith("multipart/"):
        return _bad(415, "body", "请以 multipart/form-data 上传照片")
    fields: dict[str, str] = {}
    data, ctype = b"", ""
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, aiohttp.BodyPartReader):
            continue
        if part.name == "photo":
            ctype = part.headers.get("Content-Type", "")
            data = await part.read(decode=False)
            if len(data) > MAX_PHOTO:
                return _bad(413, "photo", "照片不能超过 5 MB")
        elif part.name in ("platform", "person"):
            fields[part.name] = (await part.text())[:100]
    who = _who(box, fields)
    if isinstance(who, web.Response):
        return who
    platform, person = who
    if not data or ctype not in PHOTO_TYPES:
        return _bad(422, "photo", "请选择一张 JPEG、PNG、GIF 或 WebP 图片")
    media_id = "sbx" + hashlib.sha256(data).hexdigest()[:24] + secrets.token_hex(4)
    box.hub.media[media_id] = (data, ctype)
    user = person.user_id(platform)
    url = f"/sandbox/media/{media_id}"
    box.hub.add(platform, user, "me", "image", image_url=url)
    assert box.sender is not None
    if platform == "wecom":
        base = internal_base(request.app[SERVICES].settings)
        status = await box.sender.wecom_image(user, media_id, base + url)
    else:
        status = await box.sender.dingtalk_image(user, person.name, media_id)
    return _sent(status)


def _button_keys(platform: str, card: dict[str, Any]) -> set[str]:
    if platform == "wecom":
        return {str(b.get("key")) for b in card.get("button_list", []) if isinstance(b, dict)}
    keys = set()
    for block in card.get("contents", []):
        for action in block.get("actions", []) if isinstance(block, dict) else []:
            if isinstance(action, dict) and action.get("actionType") == "request":
                keys.add(str(action.get("id")))
    return keys


async def click(request: web.Request) -> web.Response:
    acting = await _acting(request)
    if isinstance(acting, web.Response):
        return acting
    box, body, platform, person = acting
    user = person.user_id(platform)
    key, action = body.get("card"), body.get("action")
    entry = box.hub.card(platform, key) if isinstance(key, str) else None
    if entry is None or entry.user_id != user or entry.card is None:
        return _bad(404, "card", "这张卡片不在此人的会话里")
    if entry.finished_label or not isinstance(action, str):
        return _bad(409, "action", "卡片已处理，按钮不可再点")
    if action not in _button_keys(platform, entry.card):
        return _bad(409, "action", "卡片上没有这个按钮（可能已处理）")
    assert box.sender is not None
    if platform == "wecom":
        code = box.wecom.issue_response_code(entry.card_key)
        status = await box.sender.wecom_click(user, entry.card_key, action, code)
    else:
        status = await box.sender.dingtalk_click(user, entry.card_key, action)
    return _sent(status)


async def reset(request: web.Request) -> web.Response:
    body = await _json_body(request)
    if isinstance(body, web.Response):
        return body
    box = request.app[SANDBOX]
    services = request.app[SERVICES]
    await seed.wipe(services.engine)
    count = await seed.seed(services.engine, services.desk, services.clock.now())
    box.hub.reset()
    return web.json_response({"ok": True, "tickets": count})


async def media(request: web.Request) -> web.Response:
    found = request.app[SANDBOX].hub.media.get(request.match_info["media_id"])
    if found is None:
        raise web.HTTPNotFound()
    return web.Response(body=found[0], content_type=found[1])


async def fake_wecom(request: web.Request) -> web.StreamResponse:
    return await request.app[SANDBOX].wecom.handle(request)


async def fake_dingtalk(request: web.Request) -> web.StreamResponse:
    return await request.app[SANDBOX].dingtalk.handle(request)


def setup_sandbox(app: web.Application, settings: Settings) -> None:
    """Mount the sandbox on a demo app (``settings`` are the demo settings)."""
    assert settings.wecom is not None and settings.dingtalk is not None
    hub = Hub()
    base = internal_base(settings)
    people = {p.id: p for p in demo_people(settings.desk())}
    app[SANDBOX] = Sandbox(
        hub=hub,
        wecom=FakeWecomApi(
            hub,
            corp_id=settings.wecom.corp_id,
            secret=settings.wecom.secret.get_secret_value(),
            agent_id=settings.wecom.agent_id,
        ),
        dingtalk=FakeDingtalkApi(
            hub,
            app_key=settings.dingtalk.app_key,
            app_secret=settings.dingtalk.app_secret.get_secret_value(),
            files_url=f"{base}{FAKE_PREFIX}/dingtalk/files",
        ),
        people=people,
    )
    r = app.router
    r.add_get("/sandbox", page)
    r.add_get("/sandbox/static/{name}", static_handler("webhooks.sandbox", STATIC))
    r.add_get("/sandbox/api/state", state)
    r.add_get("/sandbox/events", events)
    r.add_post("/sandbox/api/say", say)
    r.add_post("/sandbox/api/photo", photo)
    r.add_post("/sandbox/api/click", click)
    r.add_post("/sandbox/api/reset", reset)
    r.add_get("/sandbox/media/{media_id}", media)
    r.add_route("*", FAKE_PREFIX + "/wecom/cgi-bin/{path:.+}", fake_wecom)
    r.add_route("*", FAKE_PREFIX + "/dingtalk/{path:.+}", fake_dingtalk)
    app.cleanup_ctx.append(_sandbox_resources)


async def _sandbox_resources(app: web.Application) -> Any:
    """After the services are up: seed the demo on first start, open the callback client."""
    services = app[SERVICES]
    box = app[SANDBOX]
    if not await seed.is_seeded(services.engine):
        await seed.seed(services.engine, services.desk, services.clock.now())
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
    settings = services.settings
    assert settings.wecom is not None and settings.dingtalk is not None
    box.sender = CallbackSender(session, internal_base(settings), settings.wecom, settings.dingtalk)
    yield
    with contextlib.suppress(Exception):
        await session.close()
