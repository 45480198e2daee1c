"""The worker process: the inbox worker, the outbox relay and the scheduler, away from the acks.

``chatdesk serve`` starts it as a child by default (``workers.mode: process``) and the web
process then only verifies, stores and acknowledges. A turn of chat work costs milliseconds of
CPU, acknowledgements cost tens of microseconds: sharing one event loop (and one GIL) made the
acks wait behind the work. The child is supervised: restarted with backoff if it dies, stopped
with the web process, and nudged through its standard input after each stored callback ("i")
and each change that queued messages ("o"), so nothing waits for a poll. It exits when that
pipe closes (the web process is gone). ``chatdesk worker`` runs the same loop on its own for
production layouts (then PostgreSQL notifications or polling wake it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from core import write_lock
from webhooks.bootstrap import build_services, close_services, start_workers
from webhooks.search_link import SearchLink, answer_searches, pair
from webhooks.settings import Settings

if TYPE_CHECKING:
    from core.kb.model import Hit
    from webhooks.forked_workers import ForkedChild

log = logging.getLogger(__name__)

INBOX, OUTBOX, MAKE_WAY = b"i", b"o", b"w"
STOP_WAIT_S = 10.0
RESTART_CAP_S = 30.0
RESTART_WAIT_S = 10.0  # a search waits this long for a restarting child before serve searches


class WorkerProcess:
    """The supervised child of ``chatdesk serve``: at first ``forked`` when serve forked it
    (webhooks/forked_workers.py), a fresh interpreter otherwise and after every restart."""

    def __init__(self, argv: list[str], forked: ForkedChild | None = None) -> None:
        self.argv = argv
        self.proc: asyncio.subprocess.Process | ForkedChild | None = None
        self._forked = forked
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.restarts = 0
        self.search_link: SearchLink | None = None  # serve's REST search, answered by this child
        self._linked = asyncio.Event()  # a child runs with its link (unset while it restarts)

    async def start(self) -> None:
        await self._spawn()
        self._task = asyncio.create_task(self._supervise(), name="worker-process")

    async def _spawn(self) -> None:
        if self.search_link is not None:
            await self.search_link.close()
        if self._forked is not None:
            self.proc, self._forked = self._forked, None
            self.search_link = SearchLink(self.proc.search)
            self._linked.set()
            self.proc.go()
            log.info("worker process %s (forked) started", self.proc.pid)
            return
        ours, theirs = pair()
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv, "--search-fd", str(theirs.fileno()),
                stdin=asyncio.subprocess.PIPE, env=dict(os.environ), pass_fds=(theirs.fileno(),),
            )  # fmt: skip
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.search_link = SearchLink(ours)
        self._linked.set()
        log.info("worker process %s started", self.proc.pid)

    async def search(self, query: str, limit: int) -> list[Hit] | None:
        """This child's hits for ``query``; while it restarts, those of the child that replaces
        it (within ``RESTART_WAIT_S``: serve would otherwise load the whole index for good);
        None if no child answered."""
        for _ in range(2):  # the link may close (the child died) before the supervisor sees it
            if self._stopping:
                return None
            try:
                await asyncio.wait_for(self._linked.wait(), RESTART_WAIT_S)
            except TimeoutError:
                return None
            link = self.search_link
            assert link is not None
            hits = await link.ask(query, limit)
            if hits is None:
                await asyncio.sleep(0.05)  # a child that died: its link's end is read meanwhile
            if hits is not None or not link.closed:
                return hits
            if self.search_link is link:
                self._linked.clear()
        return None

    @property
    def linked(self) -> bool:
        return self._linked.is_set()

    def nudge(self, what: bytes) -> None:
        """Wake the child's inbox (``INBOX``) or relay (``OUTBOX``); never blocks, never fails."""
        proc = self.proc
        if proc is None or proc.stdin is None or proc.returncode is not None:
            return
        with contextlib.suppress(Exception):  # a dying child: the supervisor restarts it
            proc.stdin.write(what)

    async def _supervise(self) -> None:
        delay = 1.0
        while not self._stopping:
            assert self.proc is not None
            code = await self.proc.wait()
            self._linked.clear()
            if self._stopping:
                return
            log.error("worker process exited with %s; restarting in %.0f s", code, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RESTART_CAP_S)
            if not self._stopping:
                self.restarts += 1
                await self._spawn()

    async def stop(self) -> None:
        self._stopping = True
        proc = self.proc
        if proc is not None and proc.returncode is None:
            if proc.stdin is not None:
                proc.stdin.close()  # the child finishes its turn and exits at end of input
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), STOP_WAIT_S)
            except TimeoutError:
                log.warning("worker process %s did not stop in time; killed", proc.pid)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.search_link is not None:
            await self.search_link.close()


class WorkerProcesses:
    """``count`` supervised children (PostgreSQL spreads the work over them: each claims with
    ``SKIP LOCKED``, and a person's messages still go one at a time, in order)."""

    def __init__(
        self, argv: list[str], count: int, forked: list[ForkedChild] | None = None
    ) -> None:
        first = forked or [None] * max(1, count)
        self.children = [WorkerProcess(argv, child) for child in first]
        self._next = 0

    async def start(self) -> None:
        for child in self.children:
            await child.start()

    def nudge(self, what: bytes) -> None:
        for child in self.children:
            child.nudge(what)

    async def search(self, query: str, limit: int) -> list[Hit] | None:
        """A knowledge search answered by one of the children (in turn); None if none did."""
        n = len(self.children)
        turn = [self.children[(self._next + i) % n] for i in range(n)]
        self._next += 1
        for child in sorted(turn, key=lambda c: not c.linked):  # a restarting one last
            hits = await child.search(query, limit)
            if hits is not None:
                return hits
        return None

    async def stop(self) -> None:
        await asyncio.gather(*(child.stop() for child in self.children))


def child_argv(config: str | None) -> list[str]:
    argv = [sys.executable, "-m", "webhooks", "worker", "--no-migrate", "--from-serve"]
    return [*argv, "--config", config] if config else argv


async def _listen_to_parent(
    wake_inbox: Callable[[], None], wake_outbox: Callable[[], None]
) -> None:
    """Nudges from the web process on standard input; returns when the pipe closes."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while data := await reader.read(4096):
        if INBOX in data:
            wake_inbox()
        if OUTBOX in data:
            wake_outbox()
        if MAKE_WAY in data:  # serve waits for SQLite's write lock (core/write_lock.py)
            write_lock.make_way()


async def run_worker(
    settings: Settings, *, run_migrations: bool, from_serve: bool, search_fd: int | None = None
) -> None:
    """``chatdesk worker``: run until SIGTERM/SIGINT (or, as serve's child, until its pipe
    closes); with ``search_fd``, answering serve's knowledge searches on it meanwhile."""
    if from_serve and settings.workers.nice:
        os.nice(settings.workers.nice)  # when both want the CPU, the acks come first
    services = await build_services(settings, run_migrations=run_migrations, worker=True)
    from webhooks.channels import setup_channels

    await setup_channels(services, inbound=False)
    await start_workers(services)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    waits = [asyncio.create_task(stop.wait())]
    searches = None
    if search_fd is not None:
        searches = asyncio.create_task(answer_searches(services, search_fd), name="searches")
    if from_serve:
        waits.append(
            asyncio.create_task(_listen_to_parent(services.wake_inbox, services.wake_outbox))
        )
    print("chatdesk worker running", flush=True)
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in [*waits, *([searches] if searches else [])]:
            task.cancel()
        await close_services(services)
