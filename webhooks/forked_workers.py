"""serve's worker processes forked from serve itself, so that they share its imported code.

Each chatdesk process carries some 70 MB of imported modules (pydantic, SQLAlchemy, aiohttp and
ours). A worker process started as a fresh interpreter loads all of it again. On Linux
``chatdesk serve`` therefore imports what both sides use, freezes it for the garbage collector
(``gc.freeze``: a collection writes into every object it visits, and a written page is copied)
and forks its worker processes *before* its event loop, threads or connections exist. Pages
that neither side writes afterwards stay one copy for both. Each child waits until serve is up
(migrated, directory synced: ``ForkedChild.go``), then runs ``run_worker`` as ``chatdesk
worker --from-serve`` would, nudged through its own pipe on standard input.

serve supervises a forked child as it does an exec'd one (``WorkerProcess``), through
``ForkedChild``, which has the face of the asyncio process it uses. A worker that dies is
restarted as a fresh interpreter (serve cannot fork safely once its loop runs): that one shares
nothing. Elsewhere than Linux (with pidfds, 5.3+) or with threads already running, serve starts
every worker as a fresh interpreter, as before.

Migrations run in a forked child too (``migrate_in_child``): Alembic and Mako (8 MB) are then
never imported by the long-lived processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import gc
import os
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Callable
from typing import NoReturn

from webhooks.settings import Settings

PR_SET_PDEATHSIG, PR_SET_NAME = 1, 15
WORKER_NAME = "chatdesk worker"  # /proc/<pid>/comm (15 bytes at most): ps and top show it
GO = b"g"


def can_fork() -> bool:
    """Forking without exec is safe and watchable here: Linux with pidfds, and no thread
    besides this one."""
    if sys.platform != "linux" or threading.active_count() != 1:
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))
    except (AttributeError, OSError):
        return False
    return True


def _prctl(option: int, value: int | bytes) -> None:
    arg = ctypes.c_char_p(value) if isinstance(value, bytes) else ctypes.c_ulong(value)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(ctypes.c_int(option), arg, 0, 0, 0)


def _leave(job: Callable[[], object]) -> NoReturn:
    """Run ``job`` in a forked child and exit with 0, or 1 (and the traceback) if it raised."""
    code = 1
    try:
        job()
        code = 0
    except BaseException:  # reported; the parent sees the exit code
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def migrate_in_child(database_url: str) -> int:
    """Apply the migrations in a forked child (Alembic stays out of this process); its exit
    code."""

    def job() -> None:
        from core.db import make_engine
        from webhooks.bootstrap import ensure_sqlite_dir, migrate

        async def run() -> None:
            ensure_sqlite_dir(database_url)
            engine = make_engine(database_url)
            try:
                await migrate(engine)
            finally:
                await engine.dispose()

        asyncio.run(run())

    pid = os.fork()
    if pid == 0:
        _leave(job)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


class _Pipe:
    """The write end of a child's standard input: never blocks, never fails (a full pipe means
    the child has plenty to read)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        os.set_blocking(fd, False)

    def write(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            os.write(self.fd, data)

    def close(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1


class ForkedChild:
    """A worker process forked before serve's event loop, seen the way ``WorkerProcess`` sees
    an ``asyncio.subprocess.Process``: pid, stdin, returncode, wait, send_signal, kill."""

    def __init__(self, pid: int, stdin: int, go: int, search: socket.socket) -> None:
        self.pid = pid
        self.stdin = _Pipe(stdin)
        self.search = search  # serve's end of its search link (webhooks/search_link.py)
        self.returncode: int | None = None
        self._go = go
        self._pidfd = os.pidfd_open(pid)  # readable once the child has exited
        self._exit: asyncio.Future[int] | None = None

    def go(self) -> None:
        """serve is up: the child builds its services and starts working."""
        with contextlib.suppress(OSError):  # a child already gone: its supervisor sees it
            os.write(self._go, GO)
        with contextlib.suppress(OSError):
            os.close(self._go)

    async def wait(self) -> int:
        if self._exit is None:
            loop = asyncio.get_running_loop()
            self._exit = loop.create_future()
            loop.add_reader(self._pidfd, self._reap)
        return await asyncio.shield(self._exit)

    def _reap(self) -> None:
        asyncio.get_running_loop().remove_reader(self._pidfd)
        os.close(self._pidfd)
        try:
            self.returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        except ChildProcessError:
            self.returncode = -1
        assert self._exit is not None
        self._exit.set_result(self.returncode)

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def fork_workers(settings: Settings) -> list[ForkedChild]:
    """Fork serve's worker processes (before the event loop: see ``can_fork``); each waits for
    its ``go``."""
    # what serve and its workers use, imported here once: the app, the channels, the workers'
    # wake-ups, the database driver and the Redis client (the scheduler stays the workers' own)
    from sqlalchemy.engine import make_url

    import webhooks.app
    import webhooks.channels  # noqa: F401
    from bot.wakeup import Wakeup  # noqa: F401
    from core.cache import import_client
    from webhooks.search_link import pair
    from webhooks.worker_process import run_worker

    make_url(settings.database_url).get_dialect().import_dbapi()
    import_client(settings.redis_url)

    gc.collect()
    gc.freeze()  # what exists now is never visited by a collection: its pages stay shared
    children, serve = [], os.getpid()
    for _ in range(settings.worker_processes()):
        nudge_r, nudge_w = os.pipe()
        go_r, go_w = os.pipe()
        ours, theirs = pair()
        pid = os.fork()
        if pid == 0:
            for child in children:  # what serve holds of the workers forked before this one
                child.stdin.close()
                child.search.close()
                for fd in (child._go, child._pidfd):
                    os.close(fd)
            os.close(nudge_w)
            os.close(go_w)
            ours.close()
            work = functools.partial(
                _work, settings, run_worker, serve, nudge_r, go_r, theirs.detach()
            )
            _leave(work)
        os.close(nudge_r)
        os.close(go_r)
        theirs.close()
        children.append(ForkedChild(pid, nudge_w, go_w, ours))
    return children


def _work(
    settings: Settings, run_worker: Callable, serve: int, nudges: int, go: int, search: int
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: serve stops, then so does this
    _prctl(PR_SET_NAME, WORKER_NAME.encode())
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)  # serve went (even by SIGKILL): stop as on its stop
    if os.getppid() != serve:  # it went before the line above took effect
        return
    os.dup2(nudges, 0)  # nudges from serve, as an exec'd worker reads them
    if nudges != 0:
        os.close(nudges)
    if os.read(go, 1) != GO:  # serve stopped before it was up
        return
    os.close(go)
    asyncio.run(run_worker(settings, run_migrations=False, from_serve=True, search_fd=search))
