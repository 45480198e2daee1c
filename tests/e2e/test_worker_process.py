"""`chatdesk serve` runs the chat work in a supervised child process (workers.mode: process):
a real server, the fake WeCom on loopback, signed and encrypted callbacks. The child answers,
is restarted when killed (the web process keeps acknowledging meanwhile), and goes with serve."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import aiohttp

from core import db
from tests.e2e.helpers import eventually
from tests.e2e.platforms import WecomChat, wecom_settings
from tests.fakes.sla_load import engineers, free_port, serve, server_config
from tests.fakes.wecom_api import start_fake_wecom
from webhooks.bootstrap import migrate


def children(pid: int) -> list[int]:
    """Live child processes of ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def command_line(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def test_serve_works_in_a_supervised_child(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    engine = db.make_engine(database_url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()
    port = free_port()
    async with start_fake_wecom() as fake:
        config = server_config(
            database_url=database_url,
            redis_url=redis_url,
            wecom=wecom_settings(fake.base_url),
            people=engineers(2),
            scan_seconds=60,
            port=port,
        )
        with serve(config, tmp_path, "desk") as proc:
            async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}") as http:
                chat = WecomChat(client=http, fake=fake)  # type: ignore[arg-type]
                [worker] = await eventually(lambda: children(proc.pid), timeout=30)
                assert "worker" in command_line(worker) and "--from-serve" in command_line(worker)

                assert await chat.say("cust-a", "帮助") == 200
                [first] = await eventually(lambda: chat.texts("cust-a"), timeout=30)
                assert "报修" in first

                os.kill(worker, signal.SIGKILL)  # the work dies; the acks go on
                assert await chat.say("cust-b", "帮助") == 200
                [again] = await eventually(
                    lambda: [p for p in children(proc.pid) if p != worker], timeout=30
                )
                [second] = await eventually(lambda: chat.texts("cust-b"), timeout=30)
                assert "报修" in second
                assert chat.texts("cust-a") == [first]  # nothing handled twice
        assert proc.poll() is not None or not alive(again)
        await eventually(lambda: not alive(again), timeout=15)
