"""Open-loop load generator: a fixed send rate, latency counted from the *scheduled* send time.

Run as its own process (``python bench/loadgen.py ...``) so that it does not share an event
loop with the server. Prints one JSON object with the results; the acknowledged MsgIds go to
``--acked-file`` (one a line) so the caller can compare them with the inbox, and each sender's
scheduled send time (``time.monotonic()``, the same clock in every process on the machine) to
``--sent-file`` so that replies timed elsewhere can be matched. Several ``--base-url`` share
the callbacks in turn (instances behind a load balancer).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp
from payloads import REPORT, Callback, build, user_of
from yarl import URL

MAX_RATE = 20_000
MAX_DURATION = 120.0


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


async def run(
    base_urls: list[str],
    callbacks: list[Callback],
    rate: float,
    *,
    connections: int,
    request_timeout: float,
    drain_s: float,
) -> dict[str, object]:
    loop = asyncio.get_running_loop()
    urls = [
        URL(base_urls[i % len(base_urls)] + cb.path_qs, encoded=True)
        for i, cb in enumerate(callbacks)
    ]
    scheduled: list[float] = []
    latencies: list[float] = []
    acked: list[str] = []
    errors: Counter[str] = Counter()
    last_done = 0.0
    max_lag = 0.0
    connector = aiohttp.TCPConnector(limit=connections, ttl_dns_cache=None)
    timeout = aiohttp.ClientTimeout(total=request_timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def send(i: int, due: float) -> None:
            nonlocal last_done
            cb = callbacks[i]
            try:
                async with session.post(urls[i], data=cb.body, headers=cb.headers) as resp:
                    await resp.read()
                    status = resp.status
            except TimeoutError:
                errors["timeout"] += 1
                return
            except aiohttp.ClientError as exc:
                errors[type(exc).__name__] += 1
                return
            done = loop.time()
            if status == 200:
                latencies.append(done - due)
                acked.append(cb.msg_id)
                last_done = max(last_done, done)
            else:
                errors[f"http {status}"] += 1

        tasks: list[asyncio.Task[None]] = []
        t0 = loop.time() + 0.2
        interval = 1.0 / rate
        for i in range(len(callbacks)):
            due = t0 + i * interval
            scheduled.append(due)
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                max_lag = max(max_lag, -delay)
            tasks.append(asyncio.create_task(send(i, due)))
        sent_end = loop.time()
        _, pending = await asyncio.wait(tasks, timeout=request_timeout + drain_s)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5)
            errors["unfinished"] += len(pending)
    duration = len(callbacks) * interval
    window = max(duration, last_done - t0) if acked else duration
    latencies.sort()
    return {
        "sent": len(callbacks),
        "acked": len(acked),
        "acked_ids": acked,
        "scheduled": scheduled,
        "errors": dict(errors),
        "error_count": sum(errors.values()),
        "window_s": window,
        "acked_per_s": len(acked) / window,
        "p50_ms": _ms(percentile(latencies, 0.50)),
        "p99_ms": _ms(percentile(latencies, 0.99)),
        "max_ms": _ms(latencies[-1] if latencies else None),
        "send_lag_ms": max_lag * 1000,  # how far the generator itself fell behind schedule
        "send_span_s": sent_end - t0,
    }


def _ms(value: float | None) -> float | None:
    return None if value is None else value * 1000


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument(
        "--base-url",
        action="append",
        required=True,
        help="http://127.0.0.1:PORT (local only); repeat to spread the callbacks in turn",
    )
    p.add_argument("--platform", choices=("wecom", "dingtalk"), required=True)
    p.add_argument("--rate", type=float, required=True, help="callbacks per second")
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--tag", required=True, help="digits that make this run's MsgIds unique")
    p.add_argument("--connections", type=int, default=256)
    p.add_argument("--request-timeout", type=float, default=15.0)
    p.add_argument("--drain", type=float, default=10.0, help="extra wait for the backlog")
    p.add_argument("--acked-file", type=Path)
    p.add_argument("--sent-file", type=Path, help="JSON {sender: scheduled monotonic time}")
    p.add_argument("--text", default=REPORT, help="message text; {n} becomes a device number")
    p.add_argument("--distinct-users", action="store_true", help="each callback its own sender")
    args = p.parse_args()
    if not all(u.startswith("http://127.0.0.1:") for u in args.base_url):
        p.error("only 127.0.0.1 targets are allowed")
    if not 0 < args.rate <= MAX_RATE or not 0 < args.duration <= MAX_DURATION:
        p.error(f"rate must be in (0, {MAX_RATE}] and duration in (0, {MAX_DURATION}]")
    n = max(1, round(args.rate * args.duration))
    started = time.perf_counter()
    callbacks = build(args.platform, args.tag, n, text=args.text, distinct=args.distinct_users)
    build_s = time.perf_counter() - started
    result = asyncio.run(
        run(
            args.base_url,
            callbacks,
            args.rate,
            connections=args.connections,
            request_timeout=args.request_timeout,
            drain_s=args.drain,
        )
    )
    acked_ids = result.pop("acked_ids")
    scheduled = result.pop("scheduled")
    if args.acked_file:
        args.acked_file.write_text("\n".join(acked_ids), encoding="ascii")  # type: ignore[arg-type]
    if args.sent_file:
        senders = [user_of(args.tag, i, args.distinct_users) for i in range(n)]
        args.sent_file.write_text(json.dumps(dict(zip(senders, scheduled, strict=False))))
    result["build_s"] = build_s
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
