"""Unit of work: one transaction, its repositories, and the events its aggregates raised."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Protocol, Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core import db, outbox
from core.assets.repository import SqlAssetRepository
from core.deferred import DeferringConnection, Writes
from core.kb.repository import SqlKbRepository
from core.messages import Event, Outbound
from core.parts.repository import SqlPartsRepository
from core.people.directory import SqlPeopleRepository
from core.queue import insert_ignoring_duplicates
from core.settlement.repository import SqlSettlementRepository
from core.signoff.repository import SqlSignoffRepository
from core.sla.repository import SqlSlaRepository
from core.tickets.offers import SqlDispatchRepository
from core.tickets.repository import SqlTicketRepository
from core.write_lock import begin_write


class UnitOfWork(Protocol):
    tickets: Any
    people: Any
    dispatch: Any  # offers, engineers' load (core/tickets/offers.py)
    parts: Any
    sla: Any  # SLA clocks (core/sla/repository.py)
    assets: Any  # the asset registry (core/assets/)
    kb: Any
    signoffs: Any  # signing links and signatures (core/signoff/)
    settlements: Any  # settlement of closed tickets (core/settlement/)

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def commit(self) -> None: ...

    def defer_writes(self) -> None:
        """From now on the repositories' writes wait and go out grouped (core/deferred.py)."""
        ...

    async def rollback(self) -> None: ...

    async def add_outbound(
        self, msg: Outbound, *, at: datetime, due_at: datetime | None = None
    ) -> None: ...

    async def mark_processed(self, source: str, *, at: datetime) -> bool:
        """Remember a command source; False when it was already processed."""
        ...

    def collect_events(self) -> list[Event]: ...


class SqlUnitOfWork:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self.conn: AsyncConnection  # what repositories use: writes deferred on request go first
        self._raw: AsyncConnection
        self.writes = Writes()
        self._committed = False

    async def __aenter__(self) -> Self:
        self._raw = await self._engine.connect()
        self.writes = Writes()
        self.conn = DeferringConnection(self._raw, self.writes)  # type: ignore[assignment]
        await self._raw.begin()
        self._repositories()
        self._committed = False
        return self

    def _repositories(self) -> None:
        """Fresh repositories on this connection (their identity maps start empty)."""
        self.tickets = SqlTicketRepository(self.conn)
        self.people = SqlPeopleRepository(self.conn)
        self.dispatch = SqlDispatchRepository(self.conn)
        self.parts = SqlPartsRepository(self.conn)
        self.sla = SqlSlaRepository(self.conn)
        self.assets = SqlAssetRepository(self.conn)
        self.kb = SqlKbRepository(self.conn)
        self.signoffs = SqlSignoffRepository(self.conn)
        self.settlements = SqlSettlementRepository(self.conn)

    async def __aexit__(self, *exc: object) -> None:
        self.writes.discard()
        try:
            if not self._committed:
                await self._raw.rollback()
        finally:
            await self._raw.close()

    def defer_writes(self) -> None:
        self.writes.deferring = True

    async def flush(self) -> None:
        await self.writes.flush(self._raw)

    async def commit(self) -> None:
        await self.flush()
        await self._raw.commit()
        self._committed = True

    async def rollback(self) -> None:
        self.writes.discard()
        await self._raw.rollback()

    @asynccontextmanager
    async def savepoint(self, *, keep: bool = True) -> AsyncIterator[None]:
        """A part of the transaction that can fail alone: on an exception (or always, with
        ``keep=False``) its writes are undone and the repositories forget what they loaded,
        so the rest of the transaction never sees a half-changed aggregate."""
        await self.flush()
        await self.begin_write()
        nested = await self._raw.begin_nested()
        try:
            yield
            if keep:
                await self.flush()
        except BaseException:
            self.writes.discard()
            await nested.rollback()
            self._repositories()
            raise
        if keep:
            await nested.commit()
        else:
            self.writes.discard()
            await nested.rollback()
            self._repositories()

    async def begin_write(self) -> None:
        """On SQLite, hold the write lock from here to the commit (core/write_lock.py): the
        driver would otherwise open the transaction only at the first write, so that what was
        read before it may have changed, and a SAVEPOINT issued before it would itself be the
        outermost transaction (its release would commit early). Nothing on PostgreSQL."""
        await begin_write(self._raw)

    async def add_outbound(
        self, msg: Outbound, *, at: datetime, due_at: datetime | None = None
    ) -> None:
        if self.writes.deferring:
            row = outbox.outbox_row(msg, at=at, due_at=due_at)
            self.writes.add("outbox", "add", outbox.add_many, row)
            return
        await outbox.add(self.conn, msg, at=at, due_at=due_at)

    async def mark_processed(self, source: str, *, at: datetime) -> bool:
        stmt = _mark_processed(self.conn.dialect.name)
        result = await self.conn.execute(stmt, {"source": source[:255], "at": at})
        return bool(result.all())

    def collect_events(self) -> list[Event]:
        events: list[Event] = []
        for ticket in self.tickets.seen.values():
            events.extend(ticket.events)
            ticket.events.clear()
        return events


@functools.cache
def _mark_processed(dialect: str) -> Any:
    """The INSERT of ``mark_processed``, built once per dialect (every command runs it)."""
    stmt = insert_ignoring_duplicates(dialect, db.processed_commands, ["source"])
    return stmt.returning(db.processed_commands.c.source)
