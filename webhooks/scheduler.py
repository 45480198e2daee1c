"""Thin scheduled jobs (APScheduler 3.x, in-memory job store): each tick issues one command.

The database is the source of truth. Each tick's command carries a source naming the job and
its time slot, so when several instances tick together only one of them acts.
"""

from __future__ import annotations

import logging
from datetime import datetime, time

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from core.messages import Actor, Channel, Command
from core.reports.commands import SendDailyDigest
from core.sla.commands import RecomputeSla, ScanSla
from core.sla.scan import BATCH
from core.tickets.commands import ScanAssignments, ScanAutoClose
from webhooks.bootstrap import Services

log = logging.getLogger(__name__)


def _system() -> Actor:
    return Actor(
        person_id="system", name="系统", roles=frozenset({"admin"}), channel=Channel.SYSTEM
    )


async def _issue(services: Services, command_type: type[Command], slot: str) -> None:
    if command_type not in services.bus.command_handlers:
        return
    try:
        await services.bus.handle(
            command_type(actor=_system(), source=f"{command_type.__name__}:{slot}")
        )
    except Exception:
        log.exception("scheduled %s failed", command_type.__name__)
    services.wake_outbox()


def scan_slot(now: datetime, interval_s: float) -> str:
    """The time slot a scan tick belongs to: whole steps since the epoch, a step being the scan
    interval or a minute, whichever is shorter. Instances with the same
    `workers.scan_interval_s` agree on it whenever each of them ticks; a scan every 20 s acts
    every 20 s (not once a minute), and with a longer interval a scan run out of turn (a later
    tick, a test moving the clock) still acts once its minute has changed."""
    step = min(interval_s, 60.0)
    return f"{int(now.timestamp() // step)}x{step:g}s"


async def scan(services: Services) -> None:
    slot = scan_slot(services.clock.now(), services.settings.workers.scan_interval_s)
    await _issue(services, ScanAssignments, slot)
    await _issue(services, ScanAutoClose, slot)
    try:
        if await services.inbox_worker.expire_dialogs():
            services.wake_outbox()
    except Exception:
        log.exception("dialog expiry scan failed")


async def sla_scan(services: Services) -> None:
    """Warnings and breaches due now; every instance scans (row locks share the work)."""
    try:
        while await services.bus.handle(ScanSla(actor=_system())) >= BATCH:
            services.wake_outbox()
    except Exception:
        log.exception("SLA scan failed")
    services.wake_outbox()


async def recompute_sla(services: Services) -> int:
    """After a (re)start with a changed config: recompute the stale clocks of open tickets."""
    done, after = 0, 0
    try:
        while after := await services.bus.handle(RecomputeSla(actor=_system(), after_id=after)):
            done += 1
    except Exception:
        log.exception("SLA recompute failed")
    return done


async def daily_digest(services: Services) -> None:
    await _issue(services, SendDailyDigest, services.clock.now().strftime("%Y%m%d"))


def digest_time(services: Services) -> time:
    reports = getattr(services.desk, "reports", None)
    value = getattr(reports, "daily_digest_at", None) if reports is not None else None
    if isinstance(value, time):
        return value
    if isinstance(value, str) and value:
        return time.fromisoformat(value)
    return time(18, 0)


def start_scheduler(services: Services) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=services.desk.timezone)
    interval = services.settings.workers.scan_interval_s
    scheduler.add_job(
        scan,
        "interval",
        seconds=interval,
        args=[services],
        id="scan",
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(
        sla_scan,
        "interval",
        seconds=float(services.desk.sla.scan_seconds),
        args=[services],
        id="sla_scan",
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(recompute_sla, args=[services], id="sla_recompute")  # once, at start
    at = digest_time(services)
    scheduler.add_job(
        daily_digest,
        CronTrigger(
            hour=at.hour, minute=at.minute, second=at.second, timezone=services.desk.timezone
        ),
        args=[services],
        id="daily_digest",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=3600,
    )
    scheduler.start()
    return scheduler
