"""Behind the ack (issue #12): the real `chatdesk serve`, workers on, as users run it.

Processes: the fake WeCom/DingTalk APIs (bench/fake_platforms.py), `chatdesk serve` (which
starts its workers the way it does by default), bench/baseline.py in ``reply`` mode (decrypt,
parse, ack and reply; no database) and bench/loadgen.py (open loop; each callback a distinct
WeCom user, so the per-person pace is never what is measured). For each database:

  A. serve, workers off: ack p99 at 300/s (figure 4, off); its rows stay in the inbox.
  B. serve, workers on, same database:
     2. the rows A left are handled: rows/s from their processed_at stamps (queue only);
     1. 帮助 at 50 and 100/s: reply p50/p99 (callback sent -> reply at the fake WeCom);
     4. ack p99 at 300/s, workers on;
     3. reports at 5 and 20/s, many engineers: callback sent -> the engineer's card;
     6. 100k closed tickets written with SQL, some load, then RSS of serve and its children,
        and of the instance as a whole: PSS and its pages counted once (harness.py).
  C. (PostgreSQL) 5. two instances sharing the database and Redis at 500/s for --duration s:
     ack p99, inbox rows == acknowledged.

    python bench/e2e.py [--db sqlite|postgres|both] [--quick] [--seconds 20] [--duration 60]
                        [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/test]
                        [--redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from callbacks import bench_database
from e2e_report import Report
from e2e_runs import (
    BENCH_TOKEN,
    SKILL,
    acks,
    cards,
    drain,
    knowledge,
    memory,
    quiet,
    replies,
    rest_search,
    seed_tickets,
)
from harness import Arrivals, Server, baseline, fakes, serve


def desk(a: argparse.Namespace) -> dict[str, Any]:
    """People and a ticket type whose report needs nothing more (one message, one ticket);
    the workers as `serve` starts them by default unless --workers-set says otherwise."""
    workers = {"run": True, "per_person_per_minute": 30, **a.workers_set}
    return {
        "people": [
            {
                "id": f"e{i}",
                "name": f"工程师{i}",
                "roles": ["engineer"],
                "skills": [SKILL],
                "wecom_userid": f"e{i}",
                "max_open": 200,
            }
            for i in range(a.engineers)
        ],
        "ticket_types": [{"key": "repair", "name": "设备报修", "skills": [SKILL], "fields": []}],
        "assignment": {"auto_dispatch": True},
        "workers": workers,
        "api_tokens": [BENCH_TOKEN],
    }


@contextlib.contextmanager
def database(kind: str, args: argparse.Namespace, work: Path) -> Iterator[tuple[str, str]]:
    """(database URL, Redis URL) of one backend, fresh for this run."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{work / 'chatdesk.db'}", ""
        return
    with bench_database(args.pg, f"chatdesk_bench_e2e_{os.getpid()}") as url:
        yield url, args.redis


def run_backend(kind: str, a: argparse.Namespace, work: Path, urls: dict[str, str]) -> dict:
    out: dict[str, Any] = {}
    want = a.figures
    arrivals = Arrivals(urls["wecom"])
    with database(kind, a, work) as (db_url, redis_url):
        common = {"database_url": db_url, "redis_url": redis_url, "urls": urls}
        if want & {2, 4}:
            off = {**desk(a), "workers": {"run": False}}
            with serve(f"{kind}-off", work, workers=False, extra=off, **common) as server:
                warm = warm_up(server, work)
                out["ack_off"] = acks([server], 300 * a.scale, a.seconds, work, db_url)
            print(f"  {kind}: workers off, ack at 300/s: {out['ack_off']}", flush=True)
        with serve(f"{kind}-on", work, workers=True, extra=desk(a), **common) as server:
            if "ack_off" in out:  # its rows wait in the inbox: the queue the workers now drain
                rows = out["ack_off"]["inbox_rows"]
                tags = [warm, out["ack_off"]["tag"]]
                out["queue"] = drain(db_url, tags, timeout=max(60, rows / 10), server=server)
                print(f"  {kind}: queue only: {out['queue']}", flush=True)
            warm_up(server, work)  # after the queue: its callbacks would add to the drain's CPU
            for rate in (50, 100) if 1 in want else ():
                quiet(db_url, timeout=a.drain)  # the replies the queue produced are sent first
                r = replies([server], arrivals, rate * a.scale, a.seconds, work, a.drain, db_url)
                out[f"reply{rate}"] = r
                print(f"  {kind}: 帮助 at {rate}/s: {r}", flush=True)
            if 4 in want:
                on = acks([server], 300 * a.scale, a.seconds, work, db_url)
                out["ack_on"] = on
                print(f"  {kind}: workers on, ack at 300/s: {on}", flush=True)
                drain(db_url, [on["tag"]], timeout=max(60, on["acked"] / 10))
            for rate in (5, 20) if 3 in want else ():
                quiet(db_url, timeout=a.drain)
                r = cards(server, arrivals, rate * a.scale, a.seconds, work, a.drain)
                out[f"card{rate}"] = r
                print(f"  {kind}: reports at {rate}/s: {r}", flush=True)
            if 6 in want:
                out["rss"] = with_history(server, arrivals, a, work)
        if kind == "postgres" and 5 in want:
            out["two"] = two_instances(kind, a, work, common)
    return out


def warm_up(server: Server, work: Path) -> str:
    """A few callbacks first, so that no figure pays for a cold process; returns their tag."""
    return str(acks([server], 20, 1, work)["tag"])


def with_history(server: Server, arrivals: Arrivals, a: argparse.Namespace, work: Path) -> dict:
    """Write ``--tickets`` closed tickets with SQL, put some load on (帮助, reports, then the
    knowledge base's articles and questions in chat), read the RSS; then once more after one
    REST search, which makes the web process load the analyzer too."""
    engineers = [f"e{i}" for i in range(a.engineers)]
    took = asyncio.run(seed_tickets(server.database_url, a.tickets, engineers))
    print(f"  seeded {a.tickets:,} tickets in {took:.1f} s", flush=True)
    replies([server], arrivals, 50 * a.scale, a.seconds, work, a.drain)
    cards(server, arrivals, 5 * a.scale, a.seconds, work, a.drain)
    kb = knowledge(server, work, min(a.seconds, 5), server.database_url, a.drain)
    got = memory(server)
    print(f"  knowledge questions: {kb}; RSS (now, peak) MB: {got}", flush=True)
    found = rest_search(server)
    after = memory(server)
    got["after_rest_search"], got["after_rest_instance"] = after["main"], after.get("instance")
    print(f"  REST search found {found}; then serve {after['main']}, the instance "
          f"{after.get('instance')}", flush=True)  # fmt: skip
    return got


def two_instances(kind: str, a: argparse.Namespace, work: Path, common: dict) -> dict[str, Any]:
    extra = desk(a)
    with (
        serve(f"{kind}-one", work, workers=True, extra=extra, **common) as one,
        serve(f"{kind}-two", work, workers=True, extra=extra, **common) as two,
    ):
        warm_up(one, work)
        warm_up(two, work)
        got = acks([one, two], 500 * a.scale, a.duration, work, common["database_url"])
        got["rss"] = [memory(one), memory(two)]
        # then how much of the backlog the two handle in --drain s (all of it when they keep up)
        got["after"] = drain(common["database_url"], [got["tag"]], timeout=a.drain)
    print(f"  {kind}: two instances at 500/s: {got}", flush=True)
    return got


def run_baseline(a: argparse.Namespace, work: Path, urls: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    arrivals = Arrivals(urls["wecom"])
    with baseline(work, urls) as base:
        warm_up(base, work)
        for rate in (50, 100) if 1 in a.figures else ():
            out[f"reply{rate}"] = replies(
                [base], arrivals, rate * a.scale, a.seconds, work, a.drain
            )
        if 4 in a.figures:
            out["ack_on"] = acks([base], 300 * a.scale, a.seconds, work)
        if 5 in a.figures:
            out["two"] = acks([base], 500 * a.scale, a.duration, work)
        out["rss"] = memory(base)
    print(f"  baseline: {out}", flush=True)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    p.add_argument("--quick", action="store_true", help="smoke run: 3 s runs, 2,000 tickets")
    p.add_argument("--seconds", type=float, default=20.0, help="length of each timed run")
    p.add_argument("--duration", type=float, default=60.0, help="two-instance run, seconds")
    p.add_argument("--figures", default="1,2,3,4,5,6", help="which of the six to measure")
    p.add_argument("--tickets", type=int, default=100_000, help="history for the RSS figure")
    p.add_argument("--engineers", type=int, default=200)
    p.add_argument("--scale", type=float, default=1.0, help="multiply every rate (tests)")
    p.add_argument("--drain", type=float, default=60.0, help="longest wait for replies/cards")
    p.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test",
                   help="PostgreSQL server; a chatdesk_bench_e2e_<pid> database is made there")  # fmt: skip
    p.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    p.add_argument("--json", type=Path, help="also write every figure and count here")
    p.add_argument(
        "--workers-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a `workers:` setting for serve, e.g. processes=2 or mode=inline (repeatable)",
    )
    a = p.parse_args()
    if a.quick:
        a.seconds, a.duration, a.tickets = min(a.seconds, 3), min(a.duration, 5), 2000
        a.drain = min(a.drain, 30)
    a.figures = {int(f) for f in a.figures.split(",") if f.strip()}
    try:
        a.workers_set = {k: json.loads(v) if v[:1].isdigit() else v
                         for k, v in (kv.split("=", 1) for kv in a.workers_set)}  # fmt: skip
    except ValueError:
        p.error("--workers-set KEY=VALUE")
    if not (0 < a.seconds <= 120 and 0 < a.duration <= 120 and 0 < a.scale <= 1):
        p.error("--seconds and --duration in (0, 120], --scale in (0, 1]")
    if not a.figures or not a.figures <= {1, 2, 3, 4, 5, 6}:
        p.error("--figures: some of 1,2,3,4,5,6")
    kinds = ["sqlite", "postgres"] if a.db == "both" else [a.db]
    print(
        f"chatdesk e2e benchmark: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, "
        f"{a.seconds:g} s runs, two instances {a.duration:g} s, {a.tickets:,} tickets, "
        f"workers: {a.workers_set or 'as serve starts them by default'}",
        flush=True,
    )
    started = time.monotonic()
    report = Report(a.scale)
    with tempfile.TemporaryDirectory(prefix="chatdesk-e2e-") as tmp:
        work = Path(tmp)
        # fresh fakes for each column: card task ids (t<n>_...) repeat across databases
        if a.figures & {1, 4, 5, 6}:
            with fakes(work, "baseline") as urls:
                report.columns["baseline"] = run_baseline(a, work, urls)
        for kind in kinds:
            with fakes(work, kind) as urls:
                report.columns[kind] = run_backend(kind, a, work, urls)
    if a.json:
        a.json.write_text(json.dumps(report.columns, ensure_ascii=False, indent=1))
    print()
    print(report.table())
    print()
    problems = report.problems()
    for line in problems:
        print("CHECK FAILED: " + line)
    print(f"checks: {'all ok' if not problems else f'{len(problems)} failed'}; "
          f"total {time.monotonic() - started:.0f} s")  # fmt: skip
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
