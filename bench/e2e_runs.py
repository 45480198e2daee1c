"""The measurements of bench/e2e.py, each against running servers (see harness.py).

Every function returns a small dict of figures and counts; nothing here prints a table.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from callbacks import cpu_seconds
from harness import (
    Arrivals,
    Load,
    Server,
    inbox_counts,
    load,
    processed_stamps,
    query,
    resident_together_mb,
    rss_mb,
    shares_mb,
)
from loadgen import percentile
from payloads import new_tag, user_of

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.processes import children

DEPTH = 4  # serve, its worker processes, and whatever they start in turn

REPORT = "报修 注塑机报警 E31 第{n}台"
KB_ARTICLES = (
    Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "kb" / "articles.jsonl"
)
KB_QUESTION = "知识 空压机启动不了"
BENCH_TOKEN = "bench-token-0123456789-abcdefghijklmnop"  # the REST API's bearer token
SKILL = "注塑机"
TICKET_NO = re.compile(r"#(\d+)")


def _ms(values: list[float], q: float) -> float | None:
    got = percentile(sorted(values), q)
    return None if got is None else got * 1000


def acked_senders(run: Load) -> set[str]:
    return {user_of(run.tag, int(mid[len(run.tag) :]), True) for mid in run.acked}


def replies(
    servers: list[Server],
    arrivals: Arrivals,
    rate: float,
    seconds: float,
    work: Path,
    drain: float,
    db_url: str = "",
) -> dict[str, Any]:
    """帮助 from distinct users at ``rate``: ack and reply latency (reply = the fake WeCom's
    arrival time minus the callback's scheduled send time); with ``db_url`` the run's inbox
    rows are counted too."""
    mark = arrivals.mark()
    cpu_before = cpu_of(servers)
    run = load([s.url for s in servers], rate, seconds, new_tag(), work)
    users = acked_senders(run)
    got = arrivals.wait_for(users, mark, timeout=drain)
    cpu = cpu_of(servers) - cpu_before
    lat = [got[u] - run.sent_at[u] for u in got]
    return {
        "cpu_ms": cpu * 1000 / len(got) if got else None,
        "sent": run.result["sent"],
        "acked": len(run.acked),
        "errors": run.result["error_count"],
        "error_kinds": run.result["errors"],
        "replied": len(got),
        "p50": _ms(lat, 0.50),
        "p99": _ms(lat, 0.99),
        "ack_p50": run.result["p50_ms"],
        "ack_p99": run.result["p99_ms"],
        "tag": run.tag,
        **({"inbox_rows": sum(inbox_counts(db_url, run.tag).values())} if db_url else {}),
    }


def cpu_of(servers: list[Server]) -> float:
    """CPU seconds used so far by the servers and every process they started."""
    pids = [pid for s in servers for pid in (s.pid, *children(s.pid, depth=DEPTH))]
    return sum(cpu_seconds(pid) or 0.0 for pid in pids)


def acks(
    servers: list[Server], rate: float, seconds: float, work: Path, db_url: str = ""
) -> dict[str, Any]:
    """Ack latency only; with ``db_url`` the inbox must hold exactly the acknowledged rows."""
    run = load([s.url for s in servers], rate, seconds, new_tag(), work)
    out = {
        "sent": run.result["sent"],
        "acked": len(run.acked),
        "errors": run.result["error_count"],
        "error_kinds": run.result["errors"],
        "ack_p50": run.result["p50_ms"],
        "ack_p99": run.result["p99_ms"],
        "acked_per_s": run.result["acked_per_s"],
        "tag": run.tag,
    }
    if db_url:
        counts = inbox_counts(db_url, run.tag)
        out["inbox_rows"] = sum(counts.values())
        out["inbox"] = counts
    return out


def quiet(db_url: str, timeout: float) -> int:
    """Wait (bounded) until no inbox row is left to handle and no outbox row to send, so that a
    figure does not pay for the backlog of the one before; returns what was still left."""
    end = time.monotonic() + timeout
    while True:
        (left,) = query(
            db_url,
            "SELECT (SELECT count(*) FROM inbox WHERE status IN ('pending', 'working'))"
            " + (SELECT count(*) FROM outbox WHERE status IN ('pending', 'working'))",
        )[0]
        if not left or time.monotonic() > end:
            return int(left)
        time.sleep(0.25)


def drain(
    db_url: str, tags: list[str], timeout: float, server: Server | None = None
) -> dict[str, Any]:
    """Wait (bounded) until no row of ``tags`` is left to handle; the handling rate from the
    rows' own processed_at stamps (first to last), so start-up time is not counted. With
    ``server``, also the CPU per row of serve and of its worker processes over that same span
    (their CPU sampled meanwhile, read at the first and last stamp)."""
    end = time.monotonic() + timeout
    started = time.monotonic()
    samples: list[tuple[float, float, float]] = []  # (epoch s, serve CPU s, workers CPU s)
    while True:
        if server is not None:
            samples.append(_cpu_sample(server))
        counts: dict[str, int] = {}
        for tag in tags:
            for status, n in inbox_counts(db_url, tag).items():
                counts[status] = counts.get(status, 0) + n
        left = sum(n for s, n in counts.items() if s not in ("done", "dead"))
        if not left or time.monotonic() > end:
            break
        time.sleep(0.25 if server is None else 0.05)
    if server is not None:
        samples.append(_cpu_sample(server))
    stamps = sorted(t for tag in tags for t in processed_stamps(db_url, tag))
    span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
    out = {
        "rows": sum(counts.values()),
        "done": counts.get("done", 0),
        "dead": counts.get("dead", 0),
        "left": left,
        "per_s": (len(stamps) - 1) / span if span > 0 else None,
        "waited_s": time.monotonic() - started,
    }
    if server is not None and span > 0:
        seen = [t for t in stamps if t >= samples[0][0]]  # rows handled while sampled
        if len(seen) > 1:
            for i, key in ((1, "serve_cpu_ms"), (2, "worker_cpu_ms")):
                used = _at(samples, seen[-1], i) - _at(samples, seen[0], i)
                out[key] = round(used * 1000 / (len(seen) - 1), 3)
    return out


def _cpu_sample(server: Server) -> tuple[float, float, float]:
    workers = children(server.pid, depth=DEPTH)
    serve = cpu_seconds(server.pid) or 0.0
    return time.time(), serve, sum(cpu_seconds(pid) or 0.0 for pid in workers)


def _at(samples: list[tuple[float, float, float]], when: float, i: int) -> float:
    """Field ``i`` of the CPU samples, interpolated linearly at epoch ``when``."""
    before = max((s for s in samples if s[0] <= when), key=lambda s: s[0])
    after = min((s for s in samples if s[0] >= when), key=lambda s: s[0], default=before)
    if after[0] == before[0]:
        return before[i]
    share = (when - before[0]) / (after[0] - before[0])
    return before[i] + share * (after[i] - before[i])


def cards(
    server: Server, arrivals: Arrivals, rate: float, seconds: float, work: Path, drain: float
) -> dict[str, Any]:
    """Reports from distinct customers at ``rate``: callback sent -> the engineer's card at the
    fake WeCom. Ticket numbers are matched by the customer's confirmation (#n) and the card's
    title (#n)."""
    mark = arrivals.mark()
    run = load([server.url], rate, seconds, new_tag(), work, text=REPORT)
    customers = acked_senders(run)
    end = time.monotonic() + drain
    while True:
        arrivals.poll()
        ticket_of, card_at = _tickets_and_cards(arrivals.seen[mark:], customers)
        if (
            len(ticket_of) >= len(customers) and set(ticket_of.values()) <= card_at.keys()
        ) or time.monotonic() > end:
            break
        time.sleep(0.2)
    lat = [card_at[n] - run.sent_at[c] for c, n in ticket_of.items() if n in card_at]
    return {
        "sent": run.result["sent"],
        "acked": len(run.acked),
        "errors": run.result["error_count"],
        "error_kinds": run.result["errors"],
        "tickets": len(ticket_of),
        "cards": len(lat),
        "p50": _ms(lat, 0.50),
        "p99": _ms(lat, 0.99),
    }


def _tickets_and_cards(
    seen: list[tuple[float, str, str, str]], customers: set[str]
) -> tuple[dict[str, int], dict[int, float]]:
    ticket_of: dict[str, int] = {}
    card_at: dict[int, float] = {}
    for t, user, kind, text in seen:
        found = TICKET_NO.search(text)
        if not found:
            continue
        if user in customers and kind != "template_card":
            ticket_of.setdefault(user, int(found.group(1)))
        elif user not in customers and kind == "template_card":
            card_at.setdefault(int(found.group(1)), t)
    return ticket_of, card_at


def knowledge(server: Server, work: Path, seconds: float, db_url: str, drain: float) -> dict:
    """The 80 development articles imported with `chatdesk kb import`, then `知识` questions in
    chat at 5/s (the worker process loads the analyzer and builds the index), drained."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATDESK_")}
    config = work / f"{server.name}.yaml"
    cmd = [
        sys.executable,
        "-m",
        "webhooks",
        "kb",
        "import",
        str(KB_ARTICLES),
        "--config",
        str(config),
    ]
    subprocess.run(
        cmd, cwd=KB_ARTICLES.parents[3], env=env, check=True, capture_output=True, timeout=300
    )
    run = load([server.url], 5, seconds, new_tag(), work, text=KB_QUESTION)
    return {
        "sent": run.result["sent"],
        "acked": len(run.acked),
        "errors": run.result["errors"],
        "left": quiet(db_url, timeout=drain),
    }


def rest_search(server: Server) -> list[str]:
    """One `GET /api/v1/kb/search` on the web process; the ids it found."""
    q = urllib.parse.quote(KB_QUESTION.split(" ", 1)[1])
    request = urllib.request.Request(
        f"{server.url}/api/v1/kb/search?q={q}", headers={"Authorization": f"Bearer {BENCH_TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=120) as r:
        return [hit["id"] for hit in json.loads(r.read())["items"]]


def memory(server: Server) -> dict[str, Any]:
    """RSS now and peak, MB, of the server process and of each process it started; and the
    instance as a whole: the sums of RSS and of peaks, of PSS and USS, and its pages counted
    once (harness.resident_together_mb)."""
    pids = [server.pid, *children(server.pid, depth=DEPTH)]
    out: dict[str, Any] = {"main": rss_mb(server.pid), "workers": [], "shares": []}
    alive = []
    for pid in pids:
        got, shares = rss_mb(pid), shares_mb(pid)
        if got is None or shares is None:
            continue
        alive.append(pid)
        if pid != server.pid:
            out["workers"].append(got)
        out["shares"].append(shares)
    if out["main"] is not None:
        every = [out["main"], *out["workers"]]
        out["instance"] = {
            "rss": sum(now for now, _ in every),
            "peaks": sum(peak for _, peak in every),
            "pss": sum(s["pss"] for s in out["shares"]),
            "uss": sum(s["uss"] for s in out["shares"]),
            "once": resident_together_mb(alive),
        }
    return out


async def seed_tickets(database_url: str, n: int, engineers: list[str]) -> float:
    """``n`` closed tickets (and their 'opened' history) written in bulk; seconds taken."""
    from sqlalchemy import func, insert, select, update

    from core import db

    started = time.perf_counter()
    engine = db.make_engine(database_url)
    try:
        async with engine.begin() as conn:
            first = (await conn.scalar(select(func.max(db.tickets.c.id)))) or 0
            requester = engineers[0]
            now = datetime.now(UTC)
            for start in range(0, n, 5000):
                tickets, history = [], []
                for i in range(first + 1 + start, first + 1 + min(n, start + 5000)):
                    at = now - timedelta(minutes=i % 500_000)
                    tickets.append({
                        "id": i, "type": "repair", "title": f"历史工单 {i}", "description": "",
                        "priority": "normal", "status": "closed", "requester_id": requester,
                        "assignee_id": engineers[i % len(engineers)], "fields": {}, "channel": "api",
                        "created_at": at, "updated_at": at, "closed_at": at, "resolved_at": at,
                        "rating_comment": "", "parts_cost": 0.0, "decline_count": 0, "version": 1,
                    })  # fmt: skip
                    history.append({
                        "ticket_id": i, "at": at, "actor_id": requester, "actor_name": "种子",
                        "channel": "api", "action": "opened", "data": {},
                    })  # fmt: skip
                await conn.execute(insert(db.tickets), tickets)
                await conn.execute(insert(db.ticket_history), history)
            await conn.execute(
                update(db.counters).where(db.counters.c.name == "ticket").values(value=first + n)
            )
    finally:
        await engine.dispose()
    return time.perf_counter() - started
