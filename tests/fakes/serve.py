"""Real `chatdesk serve` processes for tests (and bench/sla.py): the one way they start one.

``ServeProcess`` runs one server on a config (written beside its log in ``workdir``) as the
leader of a new session, so of its own process group (``serve`` starts worker processes of its
own). ``start`` waits (bounded) for /readyz; ``stop`` is SIGTERM to serve alone, as a process
manager stops it, then a bounded wait for serve and for whatever it started to go by
themselves: what is still there is SIGKILLed and named in ``orphans``. ``kill`` is SIGKILL to
the whole group, and ``close`` kills whatever is left, always. Failures quote the log's end.

``serve`` (blocking) and ``serving`` (async: the waits run in a thread, so fake platform
servers in the test's event loop keep answering) start one for the length of a block.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fakes.processes import children, group

REPO = Path(__file__).resolve().parents[2]
API_TOKEN = "serve-test-token-0123456789-abcdefghijkl"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def base_config(*, database_url: str, redis_url: str, port: int) -> dict[str, Any]:
    """What every test server is: on 127.0.0.1:<port>, quiet, no demo, one API token."""
    return {
        "database_url": database_url,
        "redis_url": redis_url,
        "log_level": "WARNING",
        "sandbox": "off",
        "api_tokens": [API_TOKEN],
        "http": {"host": "127.0.0.1", "port": port, "public_base_url": f"http://127.0.0.1:{port}"},
    }


def log_tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


@dataclass
class ServeProcess:
    """One `chatdesk serve` on 127.0.0.1:<config's http.port>. ``migrate``: let serve migrate
    the database at start (else the test has, and serve gets ``--no-migrate``)."""

    name: str
    config: dict[str, Any]
    workdir: Path
    migrate: bool = False
    cwd: Path = REPO
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    orphans: list[int] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.config["http"]["port"])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} was never started"
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def children(self) -> list[int]:
        """The pids of the server's own live child processes (its workers), from /proc."""
        return children(self.pid) if self.alive() else []

    def _spawn(self) -> subprocess.Popen[bytes]:
        path = self.workdir / f"{self.name}.yaml"
        path.write_text(json.dumps(self.config))  # JSON is YAML
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHATDESK_")}
        env["PYTHONPATH"] = str(REPO)
        cmd = [sys.executable, "-m", "webhooks", "serve", "--config", str(path)]
        if not self.migrate:
            cmd.append("--no-migrate")
        self.starts += 1
        with self.log.open("ab") as log:
            log.write(f"--- start {self.starts}\n".encode())
            log.flush()
            return subprocess.Popen(
                cmd, cwd=self.cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def start_blocking(self) -> None:
        """Start the server and wait (bounded) until /readyz answers 200."""
        self.proc = self._spawn()
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start:\n{log_tail(self.log)}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=3) as r:
                    if r.status == 200:
                        return
            if time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"{self.name} not ready:\n{log_tail(self.log)}")
            time.sleep(0.1)

    def _signal_group(self, sig: signal.Signals) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)  # the session leader's pid is the group id

    def _wait(self, timeout: float) -> bool:
        assert self.proc is not None
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def stop_blocking(self) -> int:
        """SIGTERM to serve; its exit code. Whatever is left of its group after a bounded
        wait (serve did not stop it) is SIGKILLed and its pids kept in ``orphans``."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            if not self._wait(STOP_TIMEOUT_S):
                self._signal_group(signal.SIGKILL)
                self._wait(STOP_TIMEOUT_S)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while group(self.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.orphans = group(self.proc.pid)
        self._signal_group(signal.SIGKILL)
        return int(self.proc.returncode or 0)

    def kill_now(self) -> None:
        """SIGKILL to the whole group at once (callable from inside a fake's handler)."""
        self._signal_group(signal.SIGKILL)

    def close(self) -> None:
        """Teardown: nothing of this server survives, whatever happened."""
        self._signal_group(signal.SIGKILL)
        if self.proc is not None:
            self._wait(STOP_TIMEOUT_S)

    # -- the same from async tests: the waits run in a thread, the event loop goes on ---------

    async def start(self) -> None:
        await asyncio.to_thread(self.start_blocking)

    async def stop(self) -> int:
        return await asyncio.to_thread(self.stop_blocking)

    async def kill(self) -> None:
        self.kill_now()
        await asyncio.to_thread(self._wait, STOP_TIMEOUT_S)


@contextlib.contextmanager
def serve(
    config: dict[str, Any], workdir: Path, name: str, **options: Any
) -> Iterator[ServeProcess]:
    """A started ServeProcess until the block ends (then stopped, and closed)."""
    server = ServeProcess(name, config, workdir, **options)
    try:
        server.start_blocking()
        yield server
        server.stop_blocking()
    finally:
        server.close()


@contextlib.asynccontextmanager
async def serving(
    config: dict[str, Any], workdir: Path, name: str, **options: Any
) -> AsyncIterator[ServeProcess]:
    """``serve`` for async tests."""
    server = ServeProcess(name, config, workdir, **options)
    try:
        await server.start()
        yield server
        await server.stop()
    finally:
        server.close()
