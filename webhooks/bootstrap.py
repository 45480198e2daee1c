"""Composition root: builds the engine, cache, bus, platform adapters and workers."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.delivery import OutboxRelay
from bot.media import MediaStore
from bot.ports import ChatPlatform
from bot.worker import InboxWorker
from core import db
from core.assets.model import Asset
from core.bus import MessageBus
from core.cache import Cache, make_cache
from core.clock import Clock, SystemClock
from core.handlers import BEFORE_COMMIT, COMMAND_HANDLERS, EVENT_HANDLERS
from core.people.directory import person_from_config
from core.people.model import Person, PersonKind
from core.settings import DeskConfig
from core.uow import SqlUnitOfWork
from webhooks.dashboard.access import dashboard_link
from webhooks.inbox_writer import InboxWriter
from webhooks.metrics import Metrics
from webhooks.settings import Settings

log = logging.getLogger(__name__)

API_PERSON = Person(
    id="api", name="API", kind=PersonKind.STAFF, roles=frozenset({"agent"}), on_duty=False
)


def _upgrade(connection: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    import migrations

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(migrations.__file__).parent))
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Apply migrations; on PostgreSQL an advisory lock keeps concurrent starts apart."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(7263001)"))
        await conn.run_sync(_upgrade)


def ensure_sqlite_dir(url: str) -> None:
    prefix = "sqlite+aiosqlite:///"
    if url.startswith(prefix) and url[len(prefix) :] not in ("", ":memory:"):
        Path(url[len(prefix) :]).parent.mkdir(parents=True, exist_ok=True)


async def sync_directory(engine: AsyncEngine, desk: DeskConfig, at: datetime) -> None:
    """Staff and parts from the config into the database (stock is set only on first sight).
    Instances starting together take turns on PostgreSQL (an advisory lock held until commit):
    two of them would otherwise insert the same new person at once, and one would not start."""
    async with SqlUnitOfWork(engine) as uow:
        if uow.conn.dialect.name == "postgresql":
            await uow.conn.execute(text("SELECT pg_advisory_xact_lock(7263002)"))
        keep = {API_PERSON.id}
        await uow.people.upsert(API_PERSON, at=at)
        for cfg in desk.people:
            await uow.people.upsert(person_from_config(cfg), at=at)
            keep.add(cfg.id)
        await uow.people.deactivate_staff_except(keep)
        for part in desk.parts:
            values = {
                "name": part.name,
                "unit_cost": part.unit_cost,
                "min_stock": part.min_stock,
                "unit": part.unit,
                "updated_at": at,
            }
            found = (
                await uow.conn.execute(select(db.parts.c.sku).where(db.parts.c.sku == part.sku))
            ).first()
            if found:
                await uow.conn.execute(
                    update(db.parts).where(db.parts.c.sku == part.sku).values(**values)
                )
            else:
                await uow.conn.execute(
                    insert(db.parts).values(sku=part.sku, stock=part.stock, **values)
                )
        for seed in desk.assets:  # the config list seeds the registry; imports and edits win
            if await uow.assets.get(seed.id) is None:
                await uow.assets.upsert(
                    Asset(
                        id=seed.id,
                        model=seed.model or seed.name or "-",
                        customer=seed.customer,
                        region=seed.region,
                        site_address=seed.site_address,
                        install_date=seed.install_date,
                        warranty_end=seed.warranty_end,
                        contract_end=seed.contract_end,
                        notes=seed.name if seed.model and seed.name else "",
                    ),
                    at=at,
                )
        await uow.commit()


def action_secret(settings: Settings) -> bytes:
    """The key that signs card buttons: configured, or derived from the platform secrets so that
    every instance and every restart agrees (cards sent before a restart stay clickable)."""
    if settings.action_secret.get_secret_value():
        return settings.action_secret.get_secret_value().encode()
    material = ["chatdesk-action-v1", settings.database_url]
    if settings.wecom:
        material.append(settings.wecom.secret.get_secret_value())
    if settings.dingtalk:
        material.append(settings.dingtalk.app_secret.get_secret_value())
    return hashlib.sha256("\n".join(material).encode()).digest()


def _dashboard_link(settings: Settings, clock: Clock) -> Callable[[str], str]:
    secret, base = action_secret(settings), settings.http.public_base_url
    return lambda person_id: dashboard_link(secret, base, person_id, now=clock.now())


def build_bus(engine: AsyncEngine, desk: DeskConfig, clock: Clock) -> MessageBus:
    return MessageBus(
        uow_factory=lambda: SqlUnitOfWork(engine),
        clock=clock,
        config=desk,
        command_handlers=dict(COMMAND_HANDLERS),
        event_handlers={k: list(v) for k, v in EVENT_HANDLERS.items()},
        before_commit=BEFORE_COMMIT,
    )


@dataclass
class Loop:
    """A background loop that runs ``step`` until stopped; ``wake()`` runs it at once."""

    name: str
    step: Callable[[], Awaitable[int]]
    interval: float
    event: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    stopping: bool = False
    settle_s: float = 0.0  # after a wake, let more commits arrive so that one step takes them all

    def wake(self) -> None:
        self.event.set()

    async def _run(self) -> None:
        while not self.stopping:
            try:
                handled = await self.step()
            except Exception:
                log.exception("%s loop step failed", self.name)
                handled = 0
            if handled:
                continue  # more may be waiting
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.event.wait(), self.interval)
                if self.settle_s:
                    await asyncio.sleep(self.settle_s)
            self.event.clear()

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self, grace_s: float = 5.0) -> None:
        """Let the step in hand finish (a turn half-done would wait out its lease), then end."""
        if self.task:
            self.stopping = True
            self.event.set()
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self.task), grace_s)
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


@dataclass
class Services:
    settings: Settings
    desk: DeskConfig
    engine: AsyncEngine
    cache: Cache
    clock: Clock
    bus: MessageBus
    metrics: Metrics
    platforms: dict[str, ChatPlatform]
    decoders: dict[str, Any]
    inbox_worker: InboxWorker
    relay: OutboxRelay
    inbox_writer: InboxWriter
    loops: list[Loop] = field(default_factory=list)
    worker_process: Any = None  # webhooks/worker_process.WorkerProcess when the work runs apart
    streams: dict[str, Any] = field(default_factory=dict)  # inbound connections (DingTalk Stream)
    closers: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)

    def wake_inbox(self) -> None:
        self._wake("inbox", b"i")

    def wake_outbox(self) -> None:
        self._wake("outbox", b"o")

    def _wake(self, name: str, nudge: bytes) -> None:
        if self.worker_process is not None:
            self.worker_process.nudge(nudge)
        for loop in self.loops:
            if loop.name == name:
                loop.wake()


def service_engine(settings: Settings, *, worker: bool = False) -> AsyncEngine:
    """The database engine of a process of the service; ``worker``: of one that runs only the
    workers and the scheduler (``chatdesk worker``, serve's child; bench/scans.py times the
    scans on this one, as that process runs them)."""
    relaxed = worker and settings.workers.sqlite_synchronous == "normal"
    return db.make_engine(
        settings.database_url,
        synchronous="NORMAL" if relaxed else "FULL",
        inline=worker,  # SQLite: a worker process's loop does database work only
    )


async def build_services(
    settings: Settings,
    *,
    clock: Clock | None = None,
    platforms: dict[str, ChatPlatform] | None = None,
    run_migrations: bool = True,
    worker: bool = False,
) -> Services:
    """``worker``: for a process that runs only the workers (``chatdesk worker``, serve's child),
    whose SQLite commits may leave the log's sync to the next acknowledging commit."""
    clock = clock or SystemClock()
    desk = settings.desk()
    ensure_sqlite_dir(settings.database_url)
    engine = service_engine(settings, worker=worker)
    if run_migrations:
        await migrate(engine)
    await sync_directory(engine, desk, clock.now())
    cache = make_cache(settings.redis_url, engine)
    bus = build_bus(engine, desk, clock)
    services = Services(
        settings=settings,
        desk=desk,
        engine=engine,
        cache=cache,
        clock=clock,
        bus=bus,
        metrics=Metrics(),
        platforms=dict(platforms or {}),
        decoders={},
        inbox_worker=InboxWorker(
            engine=engine,
            bus=bus,
            batch=settings.workers.batch,
            lease_s=settings.workers.inbox_lease_s,
            concurrency=1 if db.is_sqlite(engine) else settings.workers.concurrency,
            action_secret=action_secret(settings),
            public_base_url=settings.http.public_base_url,
            dashboard_link=_dashboard_link(settings, clock),
        ),
        relay=None,  # type: ignore[arg-type]
        inbox_writer=InboxWriter(engine, clock, timeout_s=settings.http.ack_timeout_s),
    )
    services.relay = OutboxRelay(
        engine=engine,
        platforms=services.platforms,
        clock=clock,
        batch=settings.workers.batch,
        max_attempts=settings.workers.max_attempts,
        lease_s=settings.workers.outbox_lease_s,
        action_secret=action_secret(settings),
        retry_base_s=settings.workers.retry_base_s,
        retry_cap_s=settings.workers.retry_cap_s,
        give_up_after_s=settings.workers.give_up_after_s,
        cache=cache,
        per_person_per_minute=settings.workers.per_person_per_minute,
        media_store=MediaStore(settings.media_dir),
    )
    return services


async def start_workers(services: Services) -> None:
    """The inbox and outbox loops (woken by commits: PostgreSQL notifications from any process
    or instance, in-process signals on SQLite; polling stays as the fallback) and the
    scheduler."""
    s = services.settings.workers
    inbox_loop = Loop("inbox", services.inbox_worker.run_once, s.inbox_poll_s)
    outbox_loop = Loop("outbox", services.relay.run_once, s.outbox_poll_s, settle_s=0.01)

    async def inbox_then_outbox() -> int:
        handled = await services.inbox_worker.run_once()
        if handled:
            outbox_loop.wake()
        return handled

    inbox_loop.step = inbox_then_outbox
    services.loops = [inbox_loop, outbox_loop]
    for loop in services.loops:
        loop.start()
    from bot.wakeup import Wakeup

    wakeup = Wakeup(services.settings.database_url)
    wakeup.subscribe("inbox", inbox_loop.wake)
    wakeup.subscribe("outbox", outbox_loop.wake)
    await wakeup.start()
    services.closers.append(wakeup.close)
    from webhooks.scheduler import start_scheduler

    scheduler = start_scheduler(services)
    warm = asyncio.create_task(_warm_up_kb(services), name="kb-warm-up")

    async def stop_warm_up() -> None:
        warm.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await warm

    services.closers.append(stop_warm_up)

    async def stop_scheduler() -> None:
        scheduler.shutdown(wait=False)

    services.closers.append(stop_scheduler)


async def _warm_up_kb(services: Services) -> None:
    """The knowledge index (and jieba's dictionary) loaded where the chat work runs, in the
    background at start, so that the first search after a start is as fast as any other.
    Without published articles this is two queries and nothing is loaded."""
    try:
        await services.inbox_worker.kb.search.refresh(services.engine)
    except Exception:
        log.warning("knowledge index not built at start; the first search builds it", exc_info=True)


SHUTDOWN_STEP_S = 10.0  # no part of the shutdown may hold the process (or a test) forever


async def _bounded(name: str, step: Awaitable[Any]) -> None:
    """Run one shutdown step; a step that fails or outlives SHUTDOWN_STEP_S is logged and left."""
    try:
        await asyncio.wait_for(step, SHUTDOWN_STEP_S)
    except TimeoutError:
        log.warning("shutdown: %s did not finish within %.0f s; going on", name, SHUTDOWN_STEP_S)
    except Exception:
        log.exception("shutdown: %s failed; going on", name)


async def close_services(services: Services) -> None:
    # streams first: no frame may arrive once the writer stops
    for name, stream in services.streams.items():
        await _bounded(f"stream {name}", stream.stop())
    for loop in services.loops:
        await _bounded(f"{loop.name} loop", loop.stop())
    await _bounded("inbox writer", services.inbox_writer.stop())
    for closer in reversed(services.closers):
        await _bounded(getattr(closer, "__qualname__", "closer"), closer())
    await _bounded("cache", services.cache.close())
    await _bounded("database engine", services.engine.dispose())
