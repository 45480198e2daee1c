"""Scans and reads at 100k tickets: do they grow with history?

N tickets of two years' history (tests/fakes/scan_seed.py: three history rows and one offer per
ticket, 100 engineers), on a SQLite file or on PostgreSQL (a database of its own,
``chatdesk_bench_scans_<pid>`` so that concurrent runs do not collide, dropped afterwards, also
when the run is interrupted or terminated). Timed through the real bus and queries, repeated,
as the service runs them: the scans and the summary on the worker process's engine (on SQLite
without aiosqlite's thread and with ``synchronous=NORMAL``), the list on serve's, the objects
of start-up frozen for the garbage collector as serve freezes them before it forks the worker:

- auto-close with nothing due (the scan that runs every minute);
- the accept-timeout scan re-dispatching 20 lapsed offers (each to the least loaded engineer),
  and one lapsed offer (what a scan costs by itself, whatever the number of tickets); the
  lapsed tickets have their SLA clocks, as a real desk's have them from the start;
- the month summary (``统计 本月``: the summary card's figures);
- the first page and a cursor page of GET /api/v1/tickets' query.

Median and p95 in milliseconds, the median CPU time of the process (on SQLite the database's
work included; on PostgreSQL only the client's), and the SQL statements each one ran.

    python bench/scans.py [--n 100000] [--runs 30] [--db sqlite|postgresql|both]
                          [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from callbacks import bench_database  # noqa: E402
from sqlalchemy import event  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from core.clock import FixedClock  # noqa: E402
from core.messages import Actor  # noqa: E402
from core.reports.summary import summary_card_args  # noqa: E402
from core.settings import DeskConfig  # noqa: E402
from core.sla.commands import RecomputeSla  # noqa: E402
from core.tickets.commands import ScanAssignments, ScanAutoClose  # noqa: E402
from core.tickets.repository import TicketFilter  # noqa: E402
from core.uow import SqlUnitOfWork  # noqa: E402
from tests.fakes.scan_seed import OPEN_NEWEST, desk_config, lapse, seed  # noqa: E402
from webhooks.bootstrap import build_bus, migrate, service_engine  # noqa: E402
from webhooks.settings import Settings  # noqa: E402

LAPSED = 20


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Counter:
    def __init__(self, *engines: AsyncEngine) -> None:
        self.n = 0
        for engine in engines:
            event.listen(engine.sync_engine, "before_cursor_execute", self._one)

    def _one(self, *_: Any) -> None:
        self.n += 1


async def timed(
    label: str,
    runs: int,
    counter: Counter,
    step: Callable[[int], Awaitable[Any]],
    prepare: Callable[[int], Awaitable[Any]] | None = None,
) -> None:
    times, cpu, statements = [], [], []
    for i in range(runs):
        if prepare is not None:
            await prepare(i)  # not timed, not counted
        before = counter.n
        c, t = time.process_time(), time.perf_counter()
        await step(i)
        times.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
        statements.append(counter.n - before)
    print(
        f"  {label:<44} median {statistics.median(times):7.2f} ms   p95 {pct(times, 95):7.2f} ms"
        f"   cpu {statistics.median(cpu):6.2f} ms   {statistics.median(statements):.0f} statements",
        flush=True,
    )


async def run(url: str, n: int, runs: int) -> None:
    # the scans and the summary run in serve's worker process, on its engine (on SQLite: no
    # aiosqlite thread, synchronous=NORMAL); the REST list in serve, on serve's
    settings = Settings(database_url=url)
    engine = service_engine(settings, worker=True)
    web = service_engine(settings)
    await migrate(engine)
    now = datetime.now(UTC).replace(microsecond=0)
    t0 = time.perf_counter()
    staff = await seed(engine, n, now)
    print(f"  seeded {n:,} tickets, {3 * n:,} history rows, {n:,} offers in "
          f"{time.perf_counter() - t0:.1f} s", flush=True)  # fmt: skip
    config = DeskConfig.model_validate(desk_config(staff)).with_platforms(("wecom",))
    clock = FixedClock(now)
    bus = build_bus(engine, config, clock)
    counter = Counter(engine, web)
    system = Actor.system()

    async def auto_close(i: int) -> None:
        assert await bus.handle(ScanAutoClose(actor=system, source=f"bench:{i}")) == 0

    await timed("auto-close, nothing due", runs, counter, auto_close)

    # each run: other closed tickets become assigned with an offer lapsed an hour ago
    stale = now - timedelta(hours=1)
    top = n - OPEN_NEWEST  # the most recently closed tickets, as lapsed ones would be recent
    assert runs * (LAPSED + 1) < top
    for size in (LAPSED, 1):
        batches = [list(range(top - (i + 1) * size, top - i * size)) for i in range(runs)]
        top -= runs * size

        async def make_lapsed(i: int, batches: list[list[int]] = batches) -> None:
            async with engine.begin() as conn:
                await lapse(conn, batches[i], stale)
            # their SLA clocks, as tickets of a real desk have them since they were opened
            after = min(batches[i]) - 1
            while after := await bus.handle(RecomputeSla(actor=system, after_id=after)):
                pass
            clock.set(clock.now() + timedelta(seconds=1))

        async def redispatch(i: int, size: int = size) -> None:
            found = await bus.handle(ScanAssignments(actor=system, source=f"bench:{size}:{i}"))
            assert found == size

        label = f"dispatch of {size} lapsed offer{'s' if size > 1 else ''}, 100 staff"
        await timed(label, runs, counter, redispatch, prepare=make_lapsed)

    async def month(i: int) -> None:
        async with engine.connect() as conn:
            args = await summary_card_args(conn, period="month", now=now, config=config)
        assert args["created"] > 0

    await timed("month summary (统计 本月)", runs, counter, month)

    async def first_page(i: int) -> None:
        async with SqlUnitOfWork(web) as uow:
            items = await uow.tickets.page(TicketFilter(limit=50))
        assert len(items) == 50

    await timed("REST ticket list, first page", runs, counter, first_page)

    async def later_page(i: int) -> None:
        async with SqlUnitOfWork(web) as uow:
            items = await uow.tickets.page(TicketFilter(limit=50, before_id=n // 2))
        assert len(items) == 50

    await timed("REST ticket list, a page by cursor (mid-way)", runs, counter, later_page)
    await engine.dispose()
    await web.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
                        help="PostgreSQL server; a chatdesk_bench_scans_<pid> database is made there "
                        "and dropped afterwards")  # fmt: skip
    args = parser.parse_args()
    # a terminated run unwinds like an interrupted one: its database is dropped, its file removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    gc.collect()
    gc.freeze()  # as serve does before it forks the worker process (webhooks/forked_workers.py)
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            print(f"SQLite, {args.n:,} tickets:", flush=True)
            asyncio.run(run(f"sqlite+aiosqlite:///{tmp}/bench.db", args.n, args.runs))
    if args.db in ("postgresql", "both"):
        with bench_database(args.pg, f"chatdesk_bench_scans_{os.getpid()}") as url:
            print(f"PostgreSQL, {args.n:,} tickets:", flush=True)
            asyncio.run(run(url, args.n, args.runs))


if __name__ == "__main__":
    main()
