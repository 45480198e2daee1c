"""Chat turns in one process: what one inbox row costs the worker, without HTTP around it.

N inbox rows are written straight into the inbox (each a WeCom message from a new customer, or
from N/10 returning ones), then the real inbox worker (bot/worker.py) claims and handles them at
serve's concurrency until none is left; on SQLite through the worker process's driver
(statements on the loop's thread; ``--thread``: aiosqlite's thread, as serve uses). Printed per
database: rows/s, CPU ms per row (this process only; PostgreSQL's own CPU is not in it), and
SQL statements per row. With ``--profile FILE`` the drain runs under cProfile and the top
functions are printed.

It is the microscope for bench/e2e.py's figure 2 (queue-only handling through the real serve).

    python bench/turns.py [--n 2000] [--db sqlite|postgresql|both] [--text 帮助]
                          [--returning] [--concurrency 8] [--thread] [--profile out.prof]
                          [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from callbacks import bench_database  # noqa: E402
from sqlalchemy import event, func, select  # noqa: E402

from bot.worker import InboxWorker  # noqa: E402
from core import db, inbox  # noqa: E402
from core.clock import SystemClock  # noqa: E402
from core.queue import DONE  # noqa: E402
from core.settings import DeskConfig  # noqa: E402
from webhooks.bootstrap import build_bus, migrate, sync_directory  # noqa: E402

BENCH_DB = f"chatdesk_bench_turns_{os.getpid()}"  # two runs at once never share one


def desk() -> DeskConfig:
    people = [
        {
            "id": f"e{i}",
            "name": f"工程师{i}",
            "roles": ["engineer"],
            "skills": ["注塑机"],
            "wecom_userid": f"e{i}",
        }
        for i in range(20)
    ]
    types = [{"key": "repair", "name": "设备报修", "skills": ["注塑机"], "fields": []}]
    return DeskConfig.model_validate(
        {"people": people, "ticket_types": types, "assignment": {"auto_dispatch": True}}
    ).with_platforms(("wecom",))


def rows(n: int, word: str, returning: bool, tag: str) -> list[dict[str, Any]]:
    senders = max(1, n // 10) if returning else n
    out = []
    for i in range(n):
        user = f"c{tag}{i % senders}"
        key = f"{tag}-{i}"
        out.append(
            {
                "platform": "wecom",
                "dedupe_key": key,
                "kind": "message",
                "payload": {
                    "type": "message",
                    "platform": "wecom",
                    "dedupe_key": key,
                    "user_id": user,
                    "kind": "text",
                    "text": word,
                },
            }
        )
    return out


async def drain(url: str, a: argparse.Namespace) -> None:
    sqlite = url.startswith("sqlite")
    # as the worker process runs it: statements on the loop's thread, commits synced by serve's
    engine = db.make_engine(url, inline=sqlite and not a.thread, synchronous="NORMAL")
    concurrency = a.concurrency or (1 if sqlite else 8)  # as serve sets it
    await migrate(engine)
    clock = SystemClock()
    config = desk()
    await sync_directory(engine, config, clock.now())
    bus = build_bus(engine, config, clock)
    worker = InboxWorker(engine=engine, bus=bus, concurrency=concurrency, batch=a.batch)
    statements = 0

    def one(*_: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(engine.sync_engine, "before_cursor_execute", one)
    for label, n in (("warm-up", 50), ("timed", a.n)):
        tag = f"{label[0]}{time.time_ns() % 10**9}"
        async with engine.begin() as conn:
            await inbox.insert_items(conn, rows(n, a.text, a.returning, tag), at=clock.now())
        before, cpu, wall = statements, time.process_time(), time.perf_counter()
        profile = cProfile.Profile() if a.profile and label == "timed" else None
        if profile:
            profile.enable()
        while await worker.run_once():
            pass
        if profile:
            profile.disable()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        async with engine.connect() as conn:
            done = await conn.scalar(
                select(func.count()).select_from(db.inbox).where(db.inbox.c.status == DONE)
            )
        if label == "timed":
            print(
                f"  {n:,} rows of {a.text!r} ({'returning' if a.returning else 'new'} senders),"
                f" concurrency {concurrency}: {n / wall:6.1f} rows/s,"
                f" {cpu / n * 1000:5.2f} ms CPU/row (this process),"
                f" {(statements - before) / n:4.1f} statements/row; {done:,} rows done",
                flush=True,
            )
        if profile:
            profile.dump_stats(a.profile)
            pstats.Stats(profile).sort_stats("tottime").print_stats(25)
    await engine.dispose()


def main(a: argparse.Namespace) -> None:
    if a.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            print("SQLite", flush=True)
            asyncio.run(drain(f"sqlite+aiosqlite:///{tmp}/turns.db", a))
    if a.db in ("postgresql", "both"):
        with bench_database(a.pg, BENCH_DB) as url:
            print("PostgreSQL", flush=True)
            asyncio.run(drain(url, a))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--text", default="帮助")
    p.add_argument("--returning", action="store_true", help="N/10 senders, not N new ones")
    p.add_argument("--concurrency", type=int, help="default: 1 on SQLite, 8 on PostgreSQL")
    p.add_argument("--thread", action="store_true",
                   help="SQLite through aiosqlite's thread (as serve), not inline (as the worker)")  # fmt: skip
    p.add_argument("--batch", type=int, default=20)
    p.add_argument("--profile", help="run the timed drain under cProfile, stats to this file")
    p.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    main(p.parse_args())
