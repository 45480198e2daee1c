"""serve's REST knowledge search, answered by its worker process.

The knowledge index and what it needs (jieba and its dictionary) live in the
worker process, which answers `知识` in chat and builds the index when it starts. A REST search
(``GET /api/v1/kb/search``) made the web process load all of it a second time. serve therefore
asks one of its worker processes, over a socket pair made with each child (passed as
``--search-fd`` to one started as a fresh interpreter), and the worker searches its own index:
the same code over the same published articles and config, so the same hits and scores.

One JSON object a line each way: ``{"id": 1, "q": "...", "limit": 5}`` and ``{"id": 1, "hits":
[[id, title, score], ...]}`` (or ``"error"``). When no worker answers (none runs in this
layout, it is being restarted, it failed or took longer than ``TIMEOUT_S``) ``ask`` returns
None and serve searches itself, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import socket
from typing import TYPE_CHECKING, Any

from core.kb.model import Hit
from core.kb.search import IndexOutOfDate

if TYPE_CHECKING:
    from webhooks.bootstrap import Services

log = logging.getLogger(__name__)

TIMEOUT_S = 30.0  # a first search may wait for the index the worker builds as it starts
RETRIES = 3  # the articles changed again while the index was rebuilt: build while searching
LINE_LIMIT = 2**20


def pair() -> tuple[socket.socket, socket.socket]:
    """(serve's end, the worker's end); the worker's end is inheritable, for a fresh child."""
    ours, theirs = socket.socketpair()
    theirs.set_inheritable(True)
    return ours, theirs


class SearchLink:
    """serve's end of one worker's link: ``ask`` sends a search, the answer comes back by id."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock: socket.socket | None = sock
        self._writer: asyncio.StreamWriter | None = None
        self._reading: asyncio.Task[None] | None = None
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self.closed = False

    async def _open(self) -> asyncio.StreamWriter:
        if self._writer is None:
            assert self._sock is not None
            reader, self._writer = await asyncio.open_unix_connection(
                sock=self._sock, limit=LINE_LIMIT
            )
            self._sock = None
            self._reading = asyncio.create_task(self._read(reader), name="search-link")
        return self._writer

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while line := await reader.readline():
                answer = json.loads(line)
                waiting = self._waiting.pop(answer.get("id"), None)
                if waiting is not None and not waiting.done():
                    waiting.set_result(answer)
        except (OSError, ValueError, asyncio.LimitOverrunError):
            log.warning("search link: unreadable answer from the worker", exc_info=True)
        finally:
            self.closed = True
            for waiting in self._waiting.values():
                if not waiting.done():
                    waiting.set_result({})
            self._waiting.clear()

    async def ask(self, query: str, limit: int) -> list[Hit] | None:
        """The worker's hits for ``query``; None if it did not answer."""
        if self.closed:
            return None
        ident = next(self._ids)
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[ident] = answer
        try:
            writer = await self._open()
            writer.write(json.dumps({"id": ident, "q": query, "limit": limit}).encode() + b"\n")
            got = await asyncio.wait_for(answer, TIMEOUT_S)
        except Exception:  # closed, refused, timed out: serve searches itself
            log.warning("search link: the worker did not answer; searching here", exc_info=True)
            return None
        finally:
            self._waiting.pop(ident, None)
        if "hits" not in got:
            if got:
                log.warning("search link: the worker failed (%s); searching here", got["error"])
            return None
        return [Hit(id=i, title=t, score=s) for i, t, s in got["hits"]]

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        elif self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._reading is not None:
            self._reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reading
        self.closed = True


async def search(services: Services, query: str, limit: int) -> list[Hit]:
    """A search as the worker makes it for serve: like a chat turn's, never building the index
    while a connection is held (on SQLite the worker has one)."""
    kb = services.inbox_worker.kb.search
    for _ in range(RETRIES):
        try:
            async with services.engine.connect() as conn:
                return await kb.search(conn, query, limit=limit, build=False)
        except IndexOutOfDate:
            await kb.refresh(services.engine)
    async with services.engine.connect() as conn:
        return await kb.search(conn, query, limit=limit)


async def answer_searches(services: Services, fd: int) -> None:
    """The worker's end: answer serve's searches until serve closes the link."""
    sock = socket.socket(fileno=fd)
    reader, writer = await asyncio.open_unix_connection(sock=sock, limit=LINE_LIMIT)
    tasks: set[asyncio.Task[None]] = set()

    async def one(request: dict[str, Any]) -> None:
        try:
            hits = await search(services, str(request["q"]), int(request["limit"]))
            reply: dict[str, Any] = {
                "id": request["id"],
                "hits": [[h.id, h.title, h.score] for h in hits],
            }
        except Exception as exc:  # serve searches itself, and says why if it fails too
            log.exception("search for serve failed")
            reply = {"id": request.get("id"), "error": f"{type(exc).__name__}: {exc}"}
        writer.write(json.dumps(reply, ensure_ascii=False).encode() + b"\n")

    try:
        while line := await reader.readline():
            task = asyncio.create_task(one(json.loads(line)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    finally:
        for task in list(tasks):
            task.cancel()
        writer.close()
