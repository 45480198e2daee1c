"""SLA engine benchmark: the scan's cost as open tickets grow, and the lag from a warn time to
its card on the fake platform.

1. Scan time. N open tickets (10k, 100k) with response and resolve clocks spread over the
   next 30 days, on a SQLite file and on PostgreSQL (its own ``chatdesk_bench_sla_<pid>``
   database, dropped afterwards). One ``ScanSla`` through the real bus, timed: with nothing
   due (the common tick) and with 10 warnings due (cards written to the outbox).
2. Lag. A real ``chatdesk serve`` (SQLite) sends to a fake WeCom on 127.0.0.1; 300 tickets of
   300 engineers (so no two warnings merge) warn at instants spread over a minute; each card's
   arrival at the fake minus its warn time, at the default 15 s tick and at a 1 s tick.

    python bench/sla.py [--sizes 10000,100000] [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/test]
                        [--skip-lag] [--skip-scan]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from core import db  # noqa: E402
from core.bus import MessageBus  # noqa: E402
from core.clock import FixedClock  # noqa: E402
from core.handlers import BEFORE_COMMIT, COMMAND_HANDLERS, EVENT_HANDLERS  # noqa: E402
from core.messages import Actor  # noqa: E402
from core.settings import DeskConfig  # noqa: E402
from core.sla.commands import ScanSla  # noqa: E402
from core.uow import SqlUnitOfWork  # noqa: E402
from tests.fakes.serve import free_port, serving  # noqa: E402
from tests.fakes.sla_load import desk_config, engineers, seed, server_config  # noqa: E402
from webhooks.bootstrap import migrate  # noqa: E402

BENCH_DB = f"chatdesk_bench_sla_{os.getpid()}"  # two runs at once never meet
SCANS = 40
DUE_PER_SCAN = 10


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def scan_times(url: str, n: int) -> tuple[list[float], list[float]]:
    engine = db.make_engine(url)
    now = datetime.now(UTC).replace(microsecond=0)
    people = engineers(SCANS * DUE_PER_SCAN)  # one engineer per due warning: nothing merges
    await migrate(engine)
    # the first SCANS*DUE_PER_SCAN warn one second apart per 10, the rest over the next 30 days
    due = [now + timedelta(seconds=60 + i // DUE_PER_SCAN) for i in range(SCANS * DUE_PER_SCAN)]
    spread = 30 * 86400 / max(n - len(due), 1)
    later = [now + timedelta(days=1, seconds=i * spread) for i in range(n - len(due))]
    t0 = time.perf_counter()
    await seed(engine, people, due + later)
    print(f"  seeded {n:,} tickets in {time.perf_counter() - t0:.1f} s", flush=True)
    config = DeskConfig.model_validate(desk_config(people, 15)).with_platforms(("wecom",))
    clock = FixedClock(now)
    bus = MessageBus(
        uow_factory=lambda: SqlUnitOfWork(engine), clock=clock, config=config,
        command_handlers=dict(COMMAND_HANDLERS),
        event_handlers={k: list(v) for k, v in EVENT_HANDLERS.items()},
        before_commit=BEFORE_COMMIT,
    )  # fmt: skip
    idle, busy = [], []
    for i in range(SCANS):
        clock.set(now + timedelta(seconds=30 + i * 0.01))  # nothing due yet
        t = time.perf_counter()
        assert await bus.handle(ScanSla(actor=Actor.system())) == 0
        idle.append((time.perf_counter() - t) * 1000)
    for i in range(SCANS):
        clock.set(now + timedelta(seconds=60 + i, milliseconds=500))  # the next 10 fall due
        t = time.perf_counter()
        claimed = await bus.handle(ScanSla(actor=Actor.system()))
        busy.append((time.perf_counter() - t) * 1000)
        assert claimed == DUE_PER_SCAN, claimed
    await engine.dispose()
    return idle, busy


async def pg_database(url: str, create: bool) -> str:
    base, _, _ = url.rpartition("/")
    admin = create_async_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)"))
        if create:
            await conn.execute(text(f"CREATE DATABASE {BENCH_DB}"))
    await admin.dispose()
    return f"{base}/{BENCH_DB}"


async def run_scans(sizes: list[int], pg: str) -> list[tuple[str, int, list[float], list[float]]]:
    rows = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"sqlite, {n:,} open tickets", flush=True)
            idle, busy = await scan_times(f"sqlite+aiosqlite:///{tmp}/bench.db", n)
            rows.append(("sqlite", n, idle, busy))
        if pg:
            print(f"postgresql, {n:,} open tickets", flush=True)
            url = await pg_database(pg, create=True)
            try:
                idle, busy = await scan_times(url, n)
            finally:
                await pg_database(pg, create=False)
            rows.append(("postgresql", n, idle, busy))
    return rows


async def lag(tick: float, tickets: int = 300) -> list[float]:
    from tests.e2e.platforms import wecom_settings
    from tests.fakes.wecom_api import start_fake_wecom

    people = engineers(tickets)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/lag.db"
        engine = db.make_engine(url)
        start = datetime.now(UTC) + timedelta(seconds=20)
        warn = {i + 1: start + timedelta(seconds=60 * i / tickets) for i in range(tickets)}
        await migrate(engine)
        await seed(engine, people, list(warn.values()))
        await engine.dispose()
        arrived: dict[str, datetime] = {}
        async with start_fake_wecom() as fake:
            config = server_config(
                database_url=url, redis_url="", wecom=wecom_settings(fake.base_url),
                people=people, scan_seconds=tick, port=free_port(),
            )  # fmt: skip
            async with serving(config, Path(tmp), f"lag{tick}"):
                seen = 0
                end = time.monotonic() + 20 + 60 + tick + 30
                while time.monotonic() < end and len(arrived) < tickets:
                    for message in fake.sent[seen:]:
                        task = str((message.get("template_card") or {}).get("task_id", ""))
                        if "_slaw_" in task:
                            arrived.setdefault(task, datetime.now(UTC))
                    seen = len(fake.sent)
                    await asyncio.sleep(0.02)
    # card keys are t{id}_slaw_R_e{n}: one ticket each
    return [
        (at - warn[int(task[1:].split("_")[0])]).total_seconds() for task, at in arrived.items()
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--skip-scan", action="store_true")
    parser.add_argument("--skip-lag", action="store_true")
    args = parser.parse_args()
    if not args.skip_scan:
        sizes = [int(s) for s in args.sizes.split(",") if s]
        rows = asyncio.run(run_scans(sizes, args.pg))
        print("\nbackend     open tickets  idle scan p50 / p99 ms   scan with 10 due p50 / p99 ms")
        for backend, n, idle, busy in rows:
            print(
                f"{backend:<11} {n:>12,}  {statistics.median(idle):8.2f} / {pct(idle, 99):6.2f}"
                f"       {statistics.median(busy):8.2f} / {pct(busy, 99):6.2f}"
            )
    if not args.skip_lag:
        print(
            "\nwarn time → card on the fake WeCom (300 warnings over a minute, real serve, SQLite)"
        )
        for tick in (15.0, 1.0):
            lags = asyncio.run(lag(tick))
            print(
                f"  tick {tick:>4.0f} s: {len(lags)} cards, lag p50 {statistics.median(lags):.2f} s, "
                f"p99 {pct(lags, 99):.2f} s, max {max(lags):.2f} s",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
