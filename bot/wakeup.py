"""Wake the inbox worker and the outbox relay when a commit adds rows for them.

    wakeup = Wakeup(settings.database_url)
    wakeup.subscribe("outbox", outbox_loop.wake)   # a plain function, called on the event loop
    wakeup.subscribe("inbox", inbox_loop.wake)
    await wakeup.start()
    ...
    await wakeup.close()

The writers signal in their own transaction (core/wake.py: ``core/outbox.py`` ``add()`` and
``core/inbox.py`` ``insert_items()``; ``core.wake.announce(conn, channel)`` for other writers).

On PostgreSQL, one dedicated asyncpg connection per ``Wakeup`` LISTENs on the channels, so a
commit in any process or instance sharing the database wakes the subscribers here. If that
connection drops (or stops answering the periodic ping) it is replaced, with capped backoff
and jitter between tries; every subscriber is called once after each (re)connection, since
commits may have gone unnoticed meanwhile. On SQLite the wake is in-process only (a commit on
this process's engine). Callbacks may fire more often than rows arrive, or not at all while
the listener is down: subscribers keep polling as the fallback, and a wake only makes them look
sooner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from core import wake
from core.queue import backoff
from core.wake import Channel

if TYPE_CHECKING:
    import asyncpg

log = logging.getLogger(__name__)

APPLICATION_NAME = "chatdesk-wakeup"


class Wakeup:
    def __init__(
        self,
        engine_url: str,
        *,
        ping_s: float = 30.0,
        reconnect_base_s: float = 0.5,
        reconnect_cap_s: float = 30.0,
        connect_timeout_s: float = 10.0,
    ) -> None:
        self.engine_url = engine_url
        self.ping_s = ping_s
        self.reconnect_base_s = reconnect_base_s
        self.reconnect_cap_s = reconnect_cap_s
        self.connect_timeout_s = connect_timeout_s
        self.postgres = make_url(engine_url).get_backend_name() == "postgresql"
        self.connected = asyncio.Event()  # PostgreSQL: set while LISTENing
        self.reconnects = 0
        self._subscribers: dict[Channel, list[Callable[[], None]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._started = False

    def subscribe(self, channel: Channel, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after each commit that added ``channel`` rows (best effort)."""
        if channel not in wake.CHANNELS:
            raise ValueError(f"unknown wake-up channel {channel!r}")
        self._subscribers.setdefault(channel, []).append(callback)
        if self._started and not self.postgres:
            wake.listen_local(self.engine_url, channel, callback)
        elif self._started:
            self.connected.clear()
            self._restart()  # LISTEN on the new channel too

    async def start(self) -> None:
        """Begin listening (PostgreSQL: in a background task)."""
        if self._started:
            return
        self._started = True
        if not self.postgres:
            for channel, callbacks in self._subscribers.items():
                for callback in callbacks:
                    wake.listen_local(self.engine_url, channel, callback)
            return
        self._restart()

    async def close(self) -> None:
        self._started = False
        if not self.postgres:
            for channel, callbacks in self._subscribers.items():
                for callback in callbacks:
                    wake.unlisten_local(self.engine_url, channel, callback)
            return
        await self._stop_task()

    # -- PostgreSQL ---------------------------------------------------------------------------

    def _restart(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._task = asyncio.create_task(self._listen_forever(), name="wakeup-listener")

    async def _stop_task(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.connected.clear()

    def _dsn(self) -> str:
        url = make_url(self.engine_url).set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

    async def _listen_forever(self) -> None:
        import asyncpg  # PostgreSQL only: SQLite processes never load the driver

        failures = 0
        while True:
            try:
                conn = await asyncpg.connect(
                    self._dsn(),
                    timeout=self.connect_timeout_s,
                    server_settings={"application_name": APPLICATION_NAME},
                )
            except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
                failures += 1
                delay = backoff(failures, base=self.reconnect_base_s, cap=self.reconnect_cap_s)
                log.warning("wake-up listener cannot connect (%s); retry in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                continue
            failures = 0
            try:
                await self._listen(conn)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("wake-up listener lost its connection (%s); reconnecting", exc)
            finally:
                self.connected.clear()
                conn.terminate()
            self.reconnects += 1
            await asyncio.sleep(backoff(1, base=self.reconnect_base_s, cap=self.reconnect_cap_s))

    async def _listen(self, conn: asyncpg.Connection) -> None:
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        for channel in self._subscribers:
            await conn.add_listener(wake.pg_channel(channel), self._on_notify)
        self.connected.set()
        self._call_all()  # commits made while we were not listening
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), self.ping_s)
            if not lost.is_set():  # a half-open TCP connection never says it is gone
                await asyncio.wait_for(conn.fetchval("SELECT 1"), self.connect_timeout_s)
        raise OSError("connection closed")

    def _on_notify(self, _conn: Any, _pid: int, channel: str, _payload: str) -> None:
        for name in self._subscribers:
            if wake.pg_channel(name) == channel:
                self._call(name)

    def _call_all(self) -> None:
        for name in self._subscribers:
            self._call(name)

    def _call(self, channel: Channel) -> None:
        for callback in self._subscribers.get(channel, []):
            try:
                callback()
            except Exception:
                log.exception("wake-up subscriber of %s failed", channel)
