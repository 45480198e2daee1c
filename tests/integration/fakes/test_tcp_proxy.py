"""The cuttable loopback proxy (tests/fakes/tcp_proxy.py) against a real echo server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.fakes.tcp_proxy import TcpProxy

WAIT = 5.0  # upper bound for anything that should happen; never a speed assertion


class Echo:
    def __init__(self) -> None:
        self.received = b""
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(1024):
                self.received += data
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        writer.close()


@pytest.fixture
async def echo() -> AsyncIterator[Echo]:
    server = Echo()
    await server.start()
    yield server
    assert server.server is not None
    server.server.close()


@pytest.fixture
async def proxy(echo: Echo) -> AsyncIterator[TcpProxy]:
    p = TcpProxy("127.0.0.1", echo.port)
    await p.start()
    yield p
    await p.close()


async def _roundtrip(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), WAIT)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.readexactly(len(data)), WAIT)
    finally:
        writer.close()


async def test_forwards_both_ways(proxy: TcpProxy, echo: Echo) -> None:
    assert proxy.port not in (0, echo.port)
    assert await _roundtrip(proxy.port, b"hello") == b"hello"
    assert await _roundtrip(proxy.port, "你好".encode()) == "你好".encode()
    assert echo.received == b"hello" + "你好".encode()
    assert proxy.accepted == 2


async def test_cut_drops_open_connections_and_refuses_new_ones(proxy: TcpProxy, echo: Echo) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"ping")
    await writer.drain()
    assert await asyncio.wait_for(reader.readexactly(4), WAIT) == b"ping"
    await proxy.cut()
    assert proxy.state == "refusing"
    # the open connection ends (EOF or reset), it does not hang
    try:
        rest = await asyncio.wait_for(reader.read(10), WAIT)
    except ConnectionError:
        rest = b""
    assert rest == b""
    writer.close()
    with pytest.raises(ConnectionRefusedError):
        await _roundtrip(proxy.port, b"x")
    await proxy.restore()
    assert await _roundtrip(proxy.port, b"back") == b"back"
    assert echo.received == b"pingback"


async def test_blackhole_accepts_and_never_answers(proxy: TcpProxy, echo: Echo) -> None:
    port = proxy.port
    await proxy.cut(blackhole=True)
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), WAIT)
    writer.write(b"lost")
    await writer.drain()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(4), 0.3)
    assert echo.received == b""  # nothing reached the target
    await proxy.restore()
    assert proxy.port == port  # the same address before and after
    try:  # the swallowed connection is dropped on restore
        assert await asyncio.wait_for(reader.read(4), WAIT) == b""
    except ConnectionError:
        pass
    writer.close()
    assert await _roundtrip(port, b"again") == b"again"
    assert echo.received == b"again"


async def test_url_points_at_the_proxy(proxy: TcpProxy) -> None:
    port = proxy.port
    assert proxy.url("redis://10.0.0.5:6379/4") == f"redis://127.0.0.1:{port}/4"
    assert (
        proxy.url("postgresql+asyncpg://postgres:pw@db.example:5432/test_x?ssl=disable")
        == f"postgresql+asyncpg://postgres:pw@127.0.0.1:{port}/test_x?ssl=disable"
    )


async def test_freeze_keeps_open_connections_silent(proxy: TcpProxy, echo: Echo) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"one")
    await writer.drain()
    assert await asyncio.wait_for(reader.readexactly(3), WAIT) == b"one"
    await proxy.cut(freeze=True)
    assert proxy.state == "blackhole"
    writer.write(b"two")
    await writer.drain()
    with pytest.raises(TimeoutError):  # still open, and nothing comes back
        await asyncio.wait_for(reader.read(3), 0.3)
    assert echo.received == b"one"  # nothing passed
    await proxy.restore()
    try:  # the frozen connection is dropped on restore
        assert await asyncio.wait_for(reader.read(3), WAIT) == b""
    except ConnectionError:
        pass
    writer.close()
    assert await _roundtrip(proxy.port, b"three") == b"three"
    assert echo.received == b"onethree"
