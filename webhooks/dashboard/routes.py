"""/dashboard: the managers' charts (Apache ECharts, served from the package) and CSV export.

Open in demo mode; otherwise a signed link from the bot (统计), an API-token sign-in form, or
``Authorization: Bearer`` (for scripts fetching the CSV). Figures come from
``core/reports/dashboard.py``; this module only checks access and shapes HTTP answers.
"""

from __future__ import annotations

import csv
import io
import json

from aiohttp import web

from core.reports.dashboard import dashboard_figures, export_rows
from core.uow import SqlUnitOfWork
from webhooks.api import api_token_valid
from webhooks.bootstrap import Services, action_secret
from webhooks.dashboard import access
from webhooks.errors import error_response
from webhooks.keys import SERVICES
from webhooks.static_files import package_file, static_handler

DEMO: web.AppKey[bool] = web.AppKey("dashboard_demo")
PERIODS = (7, 30, 90)
STATIC = {
    "dashboard.js": ("dashboard.js", "application/javascript", "no-cache"),
    "dashboard.css": ("dashboard.css", "text/css", "no-cache"),
    "echarts.min.js": (
        "vendor/echarts.common.min.js",
        "application/javascript",
        "public, max-age=86400",
    ),
}
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _html(name: str, status: int = 200, **values: str) -> web.Response:
    text = package_file("webhooks.dashboard", name).decode()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


async def _who(request: web.Request) -> str | None:
    """'demo', 'api' or 'p:<manager id>' when the request may see the dashboard."""
    if request.app[DEMO]:
        return "demo"
    services = request.app[SERVICES]
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer ") and api_token_valid(services.settings.api_tokens, header[7:]):
        return "api"
    cookie = request.cookies.get(access.COOKIE, "")
    subject = access.verify(
        action_secret(services.settings), "session", cookie, now=services.clock.now()
    )
    if subject is None or subject == "api":
        return subject
    return subject if await _is_manager(request, subject) else None


async def _is_manager(request: web.Request, subject: str) -> bool:
    if not subject.startswith("p:"):
        return False
    async with SqlUnitOfWork(request.app[SERVICES].engine) as uow:
        person = await uow.people.get(subject[2:])
    return person is not None and person.is_staff and bool({"manager", "admin"} & set(person.roles))


def _session(request: web.Request, subject: str) -> web.HTTPSeeOther:
    services = request.app[SERVICES]
    now = services.clock.now()
    token = access.issue(
        action_secret(services.settings), "session", subject, now=now, ttl=access.SESSION_TTL
    )
    response = web.HTTPSeeOther("/dashboard")
    response.set_cookie(
        access.COOKIE,
        token,
        max_age=int(access.SESSION_TTL.total_seconds()),
        path="/dashboard",
        httponly=True,
        samesite="Strict",
        secure=services.settings.http.public_base_url.startswith("https://"),
    )
    return response


async def page(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    link = request.query.get("k")
    if link is not None and not request.app[DEMO]:
        subject = access.verify(
            action_secret(services.settings), "link", link, now=services.clock.now()
        )
        if subject is None or not await _is_manager(request, subject):
            return _html("denied.html", 403)
        raise _session(request, subject)
    if await _who(request) is None:
        return _html("login.html", 401, error="")
    back = '<a href="/sandbox">← 返回沙盒</a>' if request.app[DEMO] else ""
    return _html("dashboard.html", back=back)


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    token = form.get("token")
    settings = request.app[SERVICES].settings
    if isinstance(token, str) and api_token_valid(settings.api_tokens, token):
        raise _session(request, "api")
    return _html(
        "login.html", 401, error='<p class="error" role="alert">令牌无效，请检查后重试。</p>'
    )


def _days(request: web.Request) -> int:
    raw = request.query.get("days", "30")
    if not raw.isascii() or not raw.isdigit() or int(raw) not in PERIODS:
        raise web.HTTPUnprocessableEntity(
            text=json.dumps(
                {"errors": [{"field": "days", "message": "days 应为 7、30 或 90"}]},
                ensure_ascii=False,
            ),
            content_type="application/json",
        )
    return int(raw)


async def _window(request: web.Request) -> tuple[Services, int] | web.Response:
    """The services and the period (days) of an allowed data request, or the refusal."""
    if await _who(request) is None:
        return error_response(
            401, [{"field": "Authorization", "message": "请通过经理的看板链接或 API 令牌访问"}]
        )
    return request.app[SERVICES], _days(request)


async def data(request: web.Request) -> web.Response:
    window = await _window(request)
    if isinstance(window, web.Response):
        return window
    services, days = window
    async with services.engine.connect() as conn:
        figures = await dashboard_figures(
            conn, days=days, now=services.clock.now(), config=services.desk
        )
    return web.json_response(figures, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def _safe(cell: str) -> str:
    """A cell a spreadsheet will not run as a formula (text from customers ends up here)."""
    return "'" + cell if cell.startswith(_FORMULA) else cell


async def tickets_csv(request: web.Request) -> web.Response:
    window = await _window(request)
    if isinstance(window, web.Response):
        return window
    services, days = window
    now = services.clock.now()
    async with services.engine.connect() as conn:
        rows = await export_rows(conn, days=days, now=now, config=services.desk)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([_safe(cell) for cell in row])
    name = f"chatdesk-tickets-{now.strftime('%Y%m%d')}-{days}d.csv"
    return web.Response(
        body=("\ufeff" + out.getvalue()).encode("utf-8"),  # BOM: Excel reads it as UTF-8
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def setup_dashboard(app: web.Application, *, demo: bool) -> None:
    app[DEMO] = demo
    r = app.router
    r.add_get("/dashboard", page)
    r.add_post("/dashboard/login", login)
    r.add_get("/dashboard/data", data)
    r.add_get("/dashboard/tickets.csv", tickets_csv)
    r.add_get("/dashboard/static/{name}", static_handler("webhooks.dashboard", STATIC))
