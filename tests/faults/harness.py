"""Real `chatdesk serve` processes for the fault tests, and a platform that talks to them.

``Instance`` runs one server in its own process group (``serve`` may start worker processes of
its own): ``start()`` waits for /readyz, ``stop()`` sends SIGTERM to the group and waits a bounded
time, ``kill()`` is SIGKILL to the whole group, and ``close()`` kills whatever is left, always.
Everything the processes print goes to ``<name>.log`` beside the config; failures quote its end.

Nothing here blocks the event loop: the fake platform servers run in the test's own loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.e2e.platforms import robot_callback
from tests.fakes.processes import children
from tests.fakes.wecom_support import callback, text_xml

REPO = Path(__file__).resolve().parents[2]
API_TOKEN = "fault-test-token-0123456789-abcdefghijkl"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
_nonce = itertools.count(1)


def log_tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


@dataclass
class Instance:
    """One `chatdesk serve` on 127.0.0.1:<port> with the config ``config``."""

    name: str
    config: dict[str, Any]
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def port(self) -> int:
        return int(self.config["http"]["port"])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _spawn(self) -> subprocess.Popen[bytes]:
        """`chatdesk serve` as the leader of a new session (so of its own process group)."""
        path = self.workdir / f"{self.name}.yaml"
        path.write_text(json.dumps(self.config))  # JSON is YAML
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHATDESK_")}
        env["PYTHONPATH"] = str(REPO)
        cmd = [sys.executable, "-m", "webhooks", "serve", "--no-migrate", "--config", str(path)]
        self.starts += 1
        with self.log.open("ab") as log:
            log.write(f"--- start {self.starts}\n".encode())
            log.flush()
            return subprocess.Popen(
                cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    async def start(self) -> None:
        """Start the server and wait (bounded) until /readyz answers 200."""
        self.proc = self._spawn()
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT_S
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as session:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited at start:\n{log_tail(self.log)}")
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.get(f"{self.url}/readyz") as r:
                        if r.status == 200:
                            return
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(f"{self.name} not ready:\n{log_tail(self.log)}")
                await asyncio.sleep(0.1)

    def _signal_group(self, sig: signal.Signals) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)  # the session leader's pid is the group id

    async def _wait(self, timeout: float) -> bool:
        assert self.proc is not None
        deadline = asyncio.get_running_loop().time() + timeout
        while self.proc.poll() is None:
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def stop(self) -> int:
        """SIGTERM to the group, a bounded wait, then SIGKILL; returns the exit code."""
        if self.proc is None:
            return 0
        self._signal_group(signal.SIGTERM)
        if not await self._wait(STOP_TIMEOUT_S):
            self._signal_group(signal.SIGKILL)
            await self._wait(STOP_TIMEOUT_S)
        self._signal_group(signal.SIGKILL)  # whatever the leader left behind in its group
        return int(self.proc.returncode or 0)

    def children(self) -> list[int]:
        """The pids of the server's own live child processes (its worker), read from /proc."""
        if not self.alive():
            return []
        assert self.proc is not None
        return children(self.proc.pid)

    def kill_now(self) -> None:
        """SIGKILL to the whole group at once (callable from inside a fake's handler)."""
        self._signal_group(signal.SIGKILL)

    async def kill(self) -> None:
        self.kill_now()
        await self._wait(STOP_TIMEOUT_S)

    def close(self) -> None:
        """Teardown: nothing of this instance survives the test, whatever happened."""
        self._signal_group(signal.SIGKILL)
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=STOP_TIMEOUT_S)


@dataclass
class Sender:
    """What the platforms do: post signed (and on WeCom encrypted) callbacks to an instance."""

    session: aiohttp.ClientSession
    statuses: list[int] = field(default_factory=list)

    async def say(self, instance: Instance, user: str, text: str, msg_id: int) -> int:
        """Post one WeCom text message; the HTTP status, or 0 when no answer came (refused,
        reset). WeCom's retries of a message carry the same ``msg_id``."""
        query, body = callback(text_xml(user, text, msg_id), f"f{next(_nonce)}")
        return await self._post(f"{instance.url}/webhooks/wecom", body, params=query)

    async def ding(self, instance: Instance, user: str, text: str, msg_id: str) -> int:
        """The same for one DingTalk robot message."""
        headers, body = robot_callback(user, {"msgtype": "text", "text": {"content": text}}, msg_id)
        return await self._post(f"{instance.url}/webhooks/dingtalk/robot", body, headers=headers)

    async def _post(self, url: str, body: bytes, **kwargs: Any) -> int:
        try:
            async with self.session.post(url, data=body, **kwargs) as r:
                await r.read()
                status = r.status
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        self.statuses.append(status)
        return status
