"""`chatdesk serve` runs the chat work in a supervised child process (workers.mode: process):
a real server, the fake WeCom on loopback, signed and encrypted callbacks. The child, forked
from serve before its event loop (sharing serve's imported code), answers, is restarted as a
fresh interpreter when killed (the web process keeps acknowledging meanwhile), and goes with
serve."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from core import db
from core.kb.search import KnowledgeSearch
from tests.e2e.helpers import eventually
from tests.e2e.platforms import WecomChat, wecom_settings
from tests.fakes.processes import children, command_line, group, maps_file, name, shared_dirty_mb
from tests.fakes.serve import API_TOKEN, REPO, free_port, serving
from tests.fakes.sla_load import engineers, server_config
from tests.fakes.wecom_api import start_fake_wecom
from webhooks.bootstrap import migrate
from webhooks.settings import load_settings


@dataclass
class Desk:
    """A migrated database, the fake WeCom, a server config on a free port (not started), and a
    WeCom chat that posts to that port."""

    config: dict[str, Any]
    chat: WecomChat


@pytest.fixture
async def desk(database_url: str, redis_url: str) -> AsyncIterator[Desk]:
    engine = db.make_engine(database_url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()
    port = free_port()
    async with (
        start_fake_wecom() as fake,
        aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}") as http,
    ):
        config = server_config(
            database_url=database_url, redis_url=redis_url, wecom=wecom_settings(fake.base_url),
            people=engineers(2), scan_seconds=60, port=port,
        )  # fmt: skip
        yield Desk(config, WecomChat(client=http, fake=fake))  # type: ignore[arg-type]


async def test_serve_works_in_a_supervised_child(
    desk: Desk, database_url: str, tmp_path: Path
) -> None:
    chat, config = desk.chat, desk.config
    config["workers"] = {**config["workers"], "processes": 2}
    expected = 1 if database_url.startswith("sqlite") else 2  # SQLite: one writer
    async with serving(config, tmp_path, "desk") as server:
        workers = await eventually(
            lambda: len(children(server.pid)) == expected and children(server.pid), timeout=30
        )
        for pid in workers:  # forked from serve, so sharing the pages neither wrote since
            assert name(pid) == "chatdesk worker" and command_line(pid) == command_line(server.pid)
            assert shared_dirty_mb(pid) > 10, shared_dirty_mb(pid)

        assert await chat.say("cust-a", "帮助") == 200
        [first] = await eventually(lambda: chat.texts("cust-a"), timeout=30)
        assert "报修" in first
        # the work gives way to the acks when both want the CPU (workers.nice, default 5)
        nice = min(19, os.getpriority(os.PRIO_PROCESS, server.pid) + 5)
        await eventually(  # set as each child starts running
            lambda: all(os.getpriority(os.PRIO_PROCESS, pid) == nice for pid in workers), timeout=30
        )

        for pid in workers:  # the work dies; the acks go on
            os.kill(pid, signal.SIGKILL)
        assert await chat.say("cust-b", "帮助") == 200
        again = await eventually(
            lambda: (
                len(set(children(server.pid)) - set(workers)) == expected and children(server.pid)
            ),
            timeout=30,
        )
        for pid in set(again) - set(workers):  # restarted once serve runs: fresh interpreters
            assert "worker" in command_line(pid) and "--from-serve" in command_line(pid)
        [second] = await eventually(lambda: chat.texts("cust-b"), timeout=30)
        assert "报修" in second
        assert chat.texts("cust-a") == [first]  # nothing handled twice
    assert server.proc is not None and server.proc.returncode == 0  # serve stopped on SIGTERM...
    assert again and server.orphans == []  # ...and its workers with it: none left to kill


async def test_serve_without_workers_and_a_chatdesk_worker_beside_it(
    desk: Desk, tmp_path: Path
) -> None:
    """The production layout: web and worker started apart on the same database."""
    chat, config = desk.chat, desk.config
    config["workers"] = {**config["workers"], "run": False}
    async with serving(config, tmp_path, "web") as web:
        assert await chat.say("cust-c", "帮助") == 200
        await asyncio.sleep(1)
        assert chat.texts("cust-c") == [] and children(web.pid) == []  # stored only

        path = tmp_path / "worker.json"
        path.write_text(json.dumps({**config, "workers": {**config["workers"], "run": True}}))
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHATDESK_")}
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "webhooks", "worker", "--no-migrate", "--config", str(path),
            cwd=REPO, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=(tmp_path / "worker.log").open("wb"),
        )  # fmt: skip
        try:
            [reply] = await eventually(lambda: chat.texts("cust-c"), timeout=30)
            assert "报修" in reply
            worker.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(worker.wait(), 20)
            assert code == 0, (tmp_path / "worker.log").read_text()
        finally:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()


ARTICLES = [
    {"id": "KB-1", "title": "空压机不启动", "body": "按下启动键没有反应：检查急停按钮是否复位。",
     "tags": ["空压机"]},
    {"id": "KB-2", "title": "空压机压力低", "body": "压力上不去：检查进气滤芯和泄漏。",
     "tags": ["空压机", "压力"]},
    {"id": "KB-3", "title": "打印机卡纸", "body": "打开后盖取出卡住的纸，检查搓纸轮。",
     "tags": ["打印机"]},
]  # fmt: skip
QUERIES = ["空压机启动不了", "空压机压力不够", "打印机卡纸了", "冰箱不制冷"]
TRIE = "/marisa_trie."  # the library of the dictionary's trie, which only searching loads


async def test_serves_rest_knowledge_search_is_answered_by_its_worker(
    desk: Desk, database_url: str, tmp_path: Path
) -> None:
    """The knowledge index lives in the worker process, which answers serve's REST searches
    (webhooks/search_link.py): the web process never loads it, the hits and scores are those
    of a search made here over the same articles and config, and a worker restarted as a fresh
    interpreter answers too."""
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    async with (
        serving(desk.config, tmp_path, "kb") as server,
        aiohttp.ClientSession(base_url=server.url, headers=auth) as http,
    ):
        for article in ARTICLES:
            assert (await http.post("/api/v1/kb/articles", json=article)).status == 201
        settings = load_settings(tmp_path / "kb.yaml")
        engine = db.make_engine(database_url)
        try:
            async with engine.connect() as conn:
                search = KnowledgeSearch(settings.desk())
                expected = [
                    [{"id": h.id, "score": h.score} for h in await search.search(conn, q)]
                    for q in QUERIES
                ]
        finally:
            await engine.dispose()
        assert expected[0] and expected[2] and expected[3] == []

        async def found() -> list[list[dict[str, Any]]]:
            out = []
            for query in QUERIES:
                r = await http.get("/api/v1/kb/search", params={"q": query})
                assert r.status == 200, await r.text()
                out.append(
                    [{"id": h["id"], "score": h["score"]} for h in (await r.json())["items"]]
                )
            return out

        [worker] = await eventually(lambda: children(server.pid), timeout=30)
        assert await found() == expected
        assert maps_file(worker, TRIE) and not maps_file(server.pid, TRIE)

        os.kill(worker, signal.SIGKILL)  # restarted as a fresh interpreter, linked anew:
        assert await found() == expected  # asked at once, serve waits for the new child
        [again] = children(server.pid)
        assert again != worker and "--search-fd" in command_line(again)
        assert maps_file(again, TRIE) and not maps_file(server.pid, TRIE)


def test_serve_that_cannot_migrate_says_so_and_leaves_nothing_running(tmp_path: Path) -> None:
    """Migrations run in a forked child before anything else (Alembic never enters serve);
    when they fail serve exits 1 with the child's error and starts no worker."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    config = server_config(
        database_url=f"sqlite+aiosqlite:///{blocker}/chatdesk.db", redis_url="",
        wecom=wecom_settings("http://127.0.0.1:9"), people=engineers(1), scan_seconds=60,
        port=free_port(),
    )  # fmt: skip
    path = tmp_path / "serve.json"
    path.write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATDESK_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "webhooks", "serve", "--config", str(path)], cwd=REPO, env=env,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 1
    assert "migrations failed" in err.decode() and "not-a-directory" in err.decode()
    assert group(proc.pid) == [] and b"serving on" not in out
