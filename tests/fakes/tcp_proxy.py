"""A loopback TCP proxy a test can cut and restore, to take a real server (Redis, PostgreSQL)
away from the code under test without stopping it for everyone else.

    proxy = TcpProxy("127.0.0.1", 6379)
    await proxy.start()              # listens on 127.0.0.1:<proxy.port>
    url = proxy.url("redis://127.0.0.1:6379/4")  # -> redis://127.0.0.1:<proxy.port>/4
    await proxy.cut()                # open connections are dropped, new ones refused
    await proxy.cut(blackhole=True)  # or: new connections are accepted and never answered
    await proxy.cut(freeze=True)     # or: that, and the open connections go silent too
    await proxy.restore()            # same port, forwarding again
    await proxy.close()

A cut is what an outage looks like to a client: its pooled connections die, and its next
connect is refused (the server is down) or hangs (the network swallows packets).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from urllib.parse import urlsplit

CHUNK = 65536


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, *, host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.host = host
        self.port = 0  # known after start()
        self.state = "stopped"  # "open", "refusing", "blackhole", "stopped"
        self.accepted = 0  # connections forwarded to the target, for tests that want to know
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._frozen = False  # open connections swallow what they carry
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def url(self, url: str) -> str:
        """``url`` (redis://…, postgresql+asyncpg://user@host:port/db) pointed at this proxy."""
        parts = urlsplit(url)
        user = parts.netloc.rpartition("@")[0]
        return parts._replace(netloc=f"{user}@{self.address}" if user else self.address).geturl()

    async def start(self) -> None:
        await self._listen()
        self.state = "open"

    async def cut(self, *, blackhole: bool = False, freeze: bool = False) -> None:
        """Drop every open connection; refuse new ones, or accept and ignore them. With
        ``freeze`` (a blackhole), open connections stay open and carry nothing either: the
        client's next call on a pooled connection hangs until its own timeout."""
        if freeze:
            self._frozen = True
        else:
            self._drop_all()
        if blackhole or freeze:
            await self._listen()
            self.state = "blackhole"
        else:
            await self._stop_listening()
            self.state = "refusing"

    async def restore(self) -> None:
        """Forward again on the same port; connections accepted while blackholed or frozen
        are dropped (the client reconnects)."""
        self._drop_all()
        self._frozen = False
        await self._listen()
        self.state = "open"

    async def close(self) -> None:
        self._drop_all()
        await self._stop_listening()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.state = "stopped"

    # -- internals ----------------------------------------------------------------------------

    async def _listen(self) -> None:
        if self._server is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))  # port 0 the first time: an ephemeral port
        self._server = await asyncio.start_server(self._accept, sock=sock)
        self.port = sock.getsockname()[1]

    async def _stop_listening(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()  # the listening socket goes: connects are refused from here on

    def _drop_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def _track(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        if self.state == "blackhole":
            await _swallow(reader)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            self._writers.discard(writer)
            return
        if writer not in self._writers:  # cut while connecting
            up_writer.transport.abort()
            return
        self.accepted += 1
        self._writers.add(up_writer)
        self._track(self._pipe(up_reader, writer, up_writer))
        await self._pipe(reader, up_writer, writer)

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        other: asyncio.StreamWriter,
    ) -> None:
        """Copy one direction until either side ends, then end both."""
        try:
            while data := await reader.read(CHUNK):
                if self._frozen:
                    continue
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for w in (writer, other):
                self._writers.discard(w)
                w.transport.abort()


async def _swallow(reader: asyncio.StreamReader) -> None:
    """Read and discard until the connection is dropped: the peer never hears back."""
    with contextlib.suppress(OSError):
        while await reader.read(CHUNK):
            pass
