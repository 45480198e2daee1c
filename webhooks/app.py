"""The aiohttp application factory: routes, middlewares and resources."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from aiohttp import web

from bot.ports import ChatPlatform
from core import db, write_lock
from core.clock import Clock
from webhooks.api import setup_api
from webhooks.bootstrap import build_services, close_services, start_workers
from webhooks.errors import Handler, error_middleware
from webhooks.health import setup_health
from webhooks.keys import SERVICES, SETTINGS
from webhooks.settings import Settings

if TYPE_CHECKING:
    from webhooks.forked_workers import ForkedChild

log = logging.getLogger(__name__)


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    response = await handler(request)
    services = request.app.get(SERVICES)
    if services is not None:
        route = (
            request.match_info.route.resource.canonical
            if request.match_info.route.resource
            else "unmatched"
        )
        services.metrics.http_requests.labels(route, str(response.status)).inc()
        services.metrics.http_latency.labels(route).observe(time.perf_counter() - started)
    return response


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    platforms: dict[str, ChatPlatform] | None = None,
    run_workers: bool | None = None,
    run_migrations: bool = True,
    worker_argv: list[str] | None = None,
    forked: list[ForkedChild] | None = None,
) -> web.Application:
    """Build the app. ``platforms`` adds or replaces outbound adapters (tests use fakes).

    With the sandbox enabled (no platform configured, or ``sandbox: on``) the app is the demo:
    the demo workspace in its own SQLite file, played through the sandbox page.

    With ``worker_argv`` (``chatdesk serve`` in the default ``workers.mode: process``) the
    workers run in that child process instead of this one (webhooks/worker_process.py), at first
    in the ``forked`` children when serve forked them (webhooks/forked_workers.py)."""
    demo = settings.sandbox_enabled
    if demo:
        from webhooks.sandbox.workspace import demo_settings

        settings = demo_settings(settings)
        run_migrations = True  # the demo's own file is always brought up to date
    app = web.Application(
        client_max_size=settings.http.max_body_bytes,
        middlewares=[metrics_middleware, error_middleware],
    )
    app[SETTINGS] = settings

    async def resources(app: web.Application) -> AsyncIterator[None]:
        services = await build_services(
            settings, clock=clock, platforms=platforms, run_migrations=run_migrations
        )
        app[SERVICES] = services
        from webhooks.channels import setup_channels

        await setup_channels(services)
        if worker_argv and not demo:
            from webhooks.worker_process import MAKE_WAY, WorkerProcesses

            children = WorkerProcesses(worker_argv, settings.worker_processes(), forked)
            services.worker_process = children
            await children.start()
            services.closers.append(children.stop)
            if db.is_sqlite(services.engine):  # one write lock: ask the child to make way
                write_lock.on_waiting(lambda: children.nudge(MAKE_WAY))
                services.closers.append(_forget_waiting_hook)
        elif settings.workers.run if run_workers is None else run_workers:
            await start_workers(services)
        yield
        await close_services(services)

    app.cleanup_ctx.append(resources)
    setup_health(app)
    setup_api(app)
    from webhooks.field_routes import setup_field_pages

    setup_field_pages(app)
    from webhooks.kb_page import setup_kb_pages

    setup_kb_pages(app)
    from webhooks.channels import add_channel_routes

    add_channel_routes(app, settings)
    from webhooks.dashboard.routes import setup_dashboard

    setup_dashboard(app, demo=demo)
    if demo:
        from webhooks.sandbox.routes import setup_sandbox

        setup_sandbox(app, settings)
    app.router.add_get("/", _home_to("/sandbox" if demo else "/dashboard"))
    return app


def _home_to(path: str) -> Handler:
    async def home(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(path)

    return home


async def _forget_waiting_hook() -> None:
    write_lock.on_waiting(None)
