"""Processes and databases for bench/e2e.py: the fake platforms, `chatdesk serve` and the
baseline (each its own process), the load generator, inbox and RSS readings.

Everything listens on 127.0.0.1. Every process started here is stopped here, by its id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callbacks import asyncpg_dsn, free_port, wait_http
from payloads import config_yaml, dedupe_prefix

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
HELP = "帮助"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATDESK_")}
    env["PYTHONPATH"] = os.pathsep.join([str(BENCH), str(REPO)])
    return env


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGINT) -> None:
    """Stop one process we started (and the process group it leads, e.g. serve's worker)."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # a child left behind in the group we created


@contextlib.contextmanager
def fakes(work: Path, name: str) -> Iterator[dict[str, str]]:
    """The fake WeCom + DingTalk process; yields {"wecom": URL, "dingtalk": URL}."""
    log_path = work / f"fakes-{name}.log"
    log = log_path.open("ab")
    cmd = [sys.executable, str(BENCH / "fake_platforms.py")]
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=log, start_new_session=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"fake platforms exited: {log_path.read_text()[-2000:]}")
        yield json.loads(line)
    finally:
        _stop(proc, signal.SIGTERM)
        log.close()


@dataclass
class Server:
    """One running process that takes callbacks: `chatdesk serve` or a baseline."""

    name: str
    url: str
    proc: subprocess.Popen[bytes]
    database_url: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.proc.pid


@contextlib.contextmanager
def process(name: str, cmd: list[str], port: int, ready: str, work: Path) -> Iterator[Server]:
    log_path = work / f"{name}.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            cmd, cwd=REPO, env=_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_http(url + ready, 90, proc)
        except RuntimeError:
            print(log_path.read_text(errors="replace")[-3000:], file=sys.stderr)
            raise
        yield Server(name, url, proc)
    finally:
        _stop(proc)


@contextlib.contextmanager
def serve(
    name: str,
    work: Path,
    *,
    database_url: str,
    redis_url: str,
    urls: dict[str, str],
    workers: bool,
    extra: dict[str, Any],
) -> Iterator[Server]:
    """A real `chatdesk serve` as users start it (it migrates the database itself)."""
    port = free_port()
    cfg = work / f"{name}.yaml"
    text = config_yaml(
        database_url=database_url,
        port=port,
        dead_port=0,
        workers=workers,
        redis_url=redis_url,
        fakes=urls,
        extra=extra,
    )
    cfg.write_text(text, encoding="utf-8")
    cmd = [sys.executable, "-m", "webhooks", "serve", "--config", str(cfg)]
    with process(name, cmd, port, "/readyz", work) as server:
        server.database_url = database_url
        yield server


@contextlib.contextmanager
def baseline(work: Path, urls: dict[str, str]) -> Iterator[Server]:
    """bench/baseline.py in ``reply`` mode: decrypt, parse, ack, reply; no database."""
    port = free_port()
    cfg = work / "baseline.yaml"
    text = config_yaml(database_url="sqlite+aiosqlite://", port=port, dead_port=0, fakes=urls)
    cfg.write_text(text, encoding="utf-8")
    cmd = [sys.executable, str(BENCH / "baseline.py"), "reply", f"--port={port}", f"--config={cfg}"]
    with process("baseline", cmd, port, "/__ready", work) as server:
        yield server


# -- load -------------------------------------------------------------------------------------


@dataclass
class Load:
    result: dict[str, Any]
    acked: list[str]  # MsgIds
    sent_at: dict[str, float]  # sender -> scheduled send time (monotonic)
    tag: str


def load(
    urls: list[str], rate: float, seconds: float, tag: str, work: Path, text: str = HELP
) -> Load:
    """Open-loop callbacks from distinct WeCom users, by bench/loadgen.py in its own process."""
    acked_file, sent_file = work / f"acked-{tag}.txt", work / f"sent-{tag}.json"
    cmd = [
        sys.executable,
        str(BENCH / "loadgen.py"),
        *(f"--base-url={u}" for u in urls),
        "--platform=wecom",
        f"--rate={rate}",
        f"--duration={seconds}",
        f"--tag={tag}",
        f"--text={text}",
        "--distinct-users",
        f"--acked-file={acked_file}",
        f"--sent-file={sent_file}",
    ]
    out = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, timeout=seconds + 120)
    if out.returncode != 0:
        raise RuntimeError(f"load generator failed: {out.stderr.decode(errors='replace')}")
    acked = acked_file.read_text().split()
    sent_at = json.loads(sent_file.read_text())
    return Load(json.loads(out.stdout), acked, sent_at, tag)


# -- what the fake WeCom received ------------------------------------------------------------


class Arrivals:
    """Reads the fake WeCom's record of accepted messages: (t, touser, msgtype, text)."""

    def __init__(self, wecom_url: str) -> None:
        self.url = wecom_url
        self.seen: list[tuple[float, str, str, str]] = []

    def poll(self) -> list[tuple[float, str, str, str]]:
        with urllib.request.urlopen(f"{self.url}/__bench/sent?since={len(self.seen)}") as r:
            new = [tuple(x) for x in json.loads(r.read())["sent"]]
        self.seen.extend(new)  # type: ignore[arg-type]
        return new  # type: ignore[return-value]

    def mark(self) -> int:
        self.poll()
        return len(self.seen)

    def first_to(self, since: int) -> dict[str, float]:
        """Each recipient's first message after index ``since``."""
        out: dict[str, float] = {}
        for t, user, _, _ in self.seen[since:]:
            out.setdefault(user, t)
        return out

    def wait_for(self, users: set[str], since: int, timeout: float) -> dict[str, float]:
        """Poll until every user in ``users`` got a message after ``since`` (bounded)."""
        end = time.monotonic() + timeout
        while True:
            self.poll()
            got = self.first_to(since)
            if users <= got.keys() or time.monotonic() > end:
                return {u: t for u, t in got.items() if u in users}
            time.sleep(0.1)


# -- the inbox --------------------------------------------------------------------------------


def inbox_counts(database_url: str, tag: str) -> dict[str, int]:
    """Rows of one run (by MsgId tag) per inbox status."""
    sql = "SELECT status, count(*) FROM inbox WHERE dedupe_key LIKE {} GROUP BY status"
    prefix = dedupe_prefix("wecom", tag) + "%"
    return dict(query(database_url, sql, prefix))  # type: ignore[arg-type]


def processed_stamps(database_url: str, tag: str) -> list[float]:
    """When each handled row of one run was marked done (epoch seconds)."""
    sql = "SELECT processed_at FROM inbox WHERE dedupe_key LIKE {} AND status = 'done'"
    rows = query(database_url, sql, dedupe_prefix("wecom", tag) + "%")
    return [_when(r[0]) for r in rows]


def _when(value: Any) -> float:
    if isinstance(value, str):  # SQLite keeps ISO text
        from datetime import datetime

        value = datetime.fromisoformat(value)
    return value.timestamp()


def query(database_url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """One read-only query with ``{}`` placeholders, on the bench's SQLite file or PostgreSQL."""
    if database_url.startswith("sqlite"):
        import sqlite3

        path = database_url.split("///", 1)[1]
        with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
            return conn.execute(sql.replace("{}", "?"), args).fetchall()
    import asyncpg

    async def fetch() -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            numbered = sql.format(*(f"${i + 1}" for i in range(len(args))))
            return [tuple(r) for r in await conn.fetch(numbered, *args)]
        finally:
            await conn.close()

    return asyncio.run(fetch())


# -- memory -----------------------------------------------------------------------------------


def rss_mb(pid: int) -> tuple[float, float] | None:
    """(resident now, peak resident) of one process in MB, from /proc (Linux)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    kb = {
        line.split(":")[0]: int(line.split()[1])
        for line in status.splitlines()
        if line.startswith(("VmRSS", "VmHWM"))
    }
    return kb.get("VmRSS", 0) / 1024, kb.get("VmHWM", 0) / 1024


def shares_mb(pid: int) -> dict[str, float] | None:
    """PSS (shared pages divided among every process that maps them, on the whole machine)
    and USS (pages no other process maps) of one process in MB, from smaps_rollup (Linux)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    kb = {f[0].rstrip(":"): int(f[1]) for f in (line.split() for line in text.splitlines()[1:])}
    private = kb.get("Private_Clean", 0) + kb.get("Private_Dirty", 0)
    return {"pss": kb.get("Pss", 0) / 1024, "uss": private / 1024}


PRESENT, PFN_MASK = 1 << 63, (1 << 55) - 1


def resident_together_mb(pids: list[int]) -> float | None:
    """The memory a group of processes occupies, each physical page counted once (pages they
    share, the interpreter's and the libraries' code or memory inherited by fork, count once;
    pages they share with processes outside the group count in full). Read from
    /proc/<pid>/pagemap, whose page frame numbers only root sees; None elsewhere."""
    frames: set[int] = set()
    for pid in pids:
        try:
            maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
            with open(f"/proc/{pid}/pagemap", "rb", buffering=0) as pagemap:
                for line in maps:
                    lo, hi = (int(x, 16) for x in line.split(None, 1)[0].split("-"))
                    if lo >= 1 << 47:  # [vsyscall]
                        continue
                    pagemap.seek(lo // 4096 * 8)
                    entries = array("Q", pagemap.read((hi - lo) // 4096 * 8))
                    frames.update(e & PFN_MASK for e in entries if e & PRESENT)
        except OSError:
            return None
    if 0 in frames:  # frame numbers hidden (not root): every present page reads as frame 0
        return None
    return len(frames) * 4096 / 2**20
