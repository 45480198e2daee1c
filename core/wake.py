"""Wake-up signals: a commit that adds inbox or outbox rows says so, for whoever waits on them.

On PostgreSQL the signal is ``pg_notify`` issued inside the writing transaction: PostgreSQL
delivers it only if that transaction commits, after the commit, to every session LISTENing on
the channel in any process, and folds identical notifications of one transaction into one.
``bot/wakeup.py`` holds the listening side.

On SQLite there is no cross-process signal: the writing connection is marked, and when it goes
back to the pool after a commit (never after a rollback) the listeners registered in this
process for the same database file are called. Other processes rely on polling.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

from sqlalchemy import Table, bindparam, event, func, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import Pool

from core.queue import insert_ignoring_duplicates

log = logging.getLogger(__name__)

Channel = Literal["inbox", "outbox"]
CHANNELS: tuple[Channel, ...] = ("inbox", "outbox")
_MARK = "chatdesk.wake"  # key in the DBAPI connection's info: (database key, channels)

_local: dict[tuple[str, str], list[Callable[[], None]]] = {}
_hooked = False


def pg_channel(channel: Channel) -> str:
    """The PostgreSQL channel name (NOTIFY is scoped to the database)."""
    return f"chatdesk_{channel}"


def notify_clause(channel: Channel) -> Any:
    """``pg_notify(...)`` as a column, to ride along an INSERT ... RETURNING (no round trip)."""
    return func.pg_notify(pg_channel(channel), "").label("wake")


def database_key(url: str) -> str:
    """What identifies one SQLite database for in-process listeners."""
    parsed = make_url(url)
    return f"{parsed.get_backend_name()}:{parsed.database or ''}"


async def insert_announcing(
    conn: AsyncConnection, table: Table, unique: list[str], row: dict[str, Any], channel: Channel
) -> bool:
    """INSERT ``row`` unless its ``unique`` columns exist; a new row signals ``channel``.
    True when the row is new."""
    stmt = _announcing_insert(conn.dialect.name, table, tuple(unique), tuple(row), channel)
    new = bool((await conn.execute(stmt, row)).all())
    if new and conn.dialect.name != "postgresql":
        mark_local(conn, channel)
    return new


_built: dict[tuple[str, str, tuple[str, ...], tuple[str, ...], str], Any] = {}


def _announcing_insert(
    dialect: str, table: Table, unique: tuple[str, ...], columns: tuple[str, ...], channel: Channel
) -> Any:
    """The statement, built once per shape: the inbox writer and every chat turn run it, and
    building it anew each time costs more than executing it."""
    key = (dialect, table.name, unique, columns, channel)
    stmt = _built.get(key)
    if stmt is None:
        base = insert_ignoring_duplicates(dialect, table, list(unique))
        base = base.values({c: bindparam(c, type_=table.c[c].type) for c in columns})
        base = base.returning(table.c.id)
        if dialect == "postgresql":  # the NOTIFY rides along the INSERT ... RETURNING
            inserted = base.cte("inserted")
            base = select(inserted.c.id, notify_clause(channel))
        stmt = _built[key] = base
    return stmt


async def insert_many_announcing(
    conn: AsyncConnection,
    table: Table,
    unique: list[str],
    rows: list[dict[str, Any]],
    channel: Channel,
) -> int:
    """INSERT ``rows`` in their order, each unless its ``unique`` columns exist (SQLAlchemy
    sends them as multi-row INSERTs, "insertmanyvalues"); new rows signal ``channel``. Returns
    how many were new. On PostgreSQL the ``pg_notify`` is in the RETURNING clause, called for
    each new row (the transaction folds identical notifications into one), instead of a
    statement of its own."""
    dialect = conn.dialect.name
    stmt = _many_insert(dialect, table, tuple(unique), channel)
    new = len((await conn.execute(stmt, rows)).all())
    if new and dialect != "postgresql":
        mark_local(conn, channel)
    return new


def _many_insert(dialect: str, table: Table, unique: tuple[str, ...], channel: Channel) -> Any:
    """The statement of ``insert_many_announcing``, built once per shape."""
    key = (dialect, table.name, unique, (), f"many:{channel}")
    stmt = _built.get(key)
    if stmt is None:
        stmt = insert_ignoring_duplicates(dialect, table, list(unique)).returning(table.c.id)
        if dialect == "postgresql":
            stmt = stmt.returning(notify_clause(channel))
        stmt = _built[key] = stmt
    return stmt


async def announce(conn: AsyncConnection, channel: Channel) -> None:
    """Signal ``channel`` when the current transaction commits."""
    if conn.dialect.name == "postgresql":
        await conn.execute(select(notify_clause(channel)))
    else:
        mark_local(conn, channel)


def mark_local(conn: AsyncConnection, channel: Channel) -> None:
    """SQLite: remember on the connection that its commit should wake ``channel`` here."""
    if not _local:
        return  # nobody in this process listens
    info = conn.sync_connection.info if conn.sync_connection else None
    if info is None:
        return
    key, channels = info.get(_MARK, (database_key(str(conn.engine.url)), set()))
    channels.add(channel)
    info[_MARK] = (key, channels)


def listen_local(url: str, channel: Channel, callback: Callable[[], None]) -> None:
    """Call ``callback`` (in this process) after each commit that added rows to ``channel``."""
    _install_hooks()
    _local.setdefault((database_key(url), channel), []).append(callback)


def unlisten_local(url: str, channel: Channel, callback: Callable[[], None]) -> None:
    callbacks = _local.get((database_key(url), channel), [])
    if callback in callbacks:
        callbacks.remove(callback)


def _install_hooks() -> None:
    global _hooked
    if _hooked:
        return
    _hooked = True
    event.listen(Engine, "rollback", _forget)
    event.listen(Pool, "checkin", _fire)


def _forget(conn: Any) -> None:
    try:
        conn.info.pop(_MARK, None)
    except Exception:  # an invalidated connection: its info goes with it (a stray wake is harmless)
        return


def _fire(_dbapi_conn: Any, record: Any) -> None:
    if record is None:
        return
    mark = record.info.pop(_MARK, None)
    if not mark:
        return
    key, channels = mark
    for channel in channels:
        for callback in list(_local.get((key, channel), [])):
            try:
                callback()
            except Exception:  # a listener's bug must not break the writer's checkin
                log.exception("wake-up listener for %s failed", channel)
