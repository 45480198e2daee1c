"""Ticket repository on SQLAlchemy Core (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core import db
from core.deferred import deferring, executemany
from core.errors import Conflict
from core.tickets.model import HistoryEntry, Priority, Ticket
from core.tickets.workflow import Status

_COLUMNS = (
    "id type title description priority status requester_id assignee_id fields channel "
    "created_at updated_at first_response_at arrived_at resolved_at closed_at response_due_at "
    "resolve_due_at rating rating_comment parts_cost decline_count asset_id"
).split()


@dataclass(frozen=True, kw_only=True)
class TicketFilter:
    status: list[str] | None = None
    assignee_id: str | None = None
    requester_id: str | None = None
    type: str | None = None
    asset_id: str | None = None
    limit: int = 50
    offset: int = 0
    before_id: int | None = None  # keyset pagination: only tickets numbered below this


def _row_values(ticket: Ticket) -> dict[str, Any]:
    values = {name: getattr(ticket, name) for name in _COLUMNS}
    values["priority"] = ticket.priority.value
    values["status"] = ticket.status.value
    return values


# What a ticket is read with: its columns in ``_COLUMNS`` order, then its version (plain
# values for ``_from_row``).
_SELECT = select(*(db.tickets.c[name] for name in _COLUMNS), db.tickets.c.version)


def _from_row(row: Any) -> Ticket:
    """A ticket from a row of ``_SELECT``."""
    data = dict(zip(_COLUMNS, row, strict=False))
    data["priority"] = Priority(data["priority"])
    data["status"] = Status(data["status"])
    data["fields"] = dict(data["fields"] or {})
    return Ticket(**data, version=row[-1])


def history_from_row(row: Any) -> HistoryEntry:
    m = row._mapping
    return HistoryEntry(
        at=m["at"],
        actor_id=m["actor_id"],
        actor_name=m["actor_name"],
        channel=m["channel"],
        action=m["action"],
        data=dict(m["data"] or {}),
    )


_h = db.ticket_history.c
# the histories of many tickets: (ticket id, then HistoryEntry's fields in order)
_HISTORIES = (
    select(_h.ticket_id, _h.at, _h.actor_id, _h.actor_name, _h.channel, _h.action, _h.data)
    .where(_h.ticket_id.in_(bindparam("ids", expanding=True)))
    .order_by(_h.ticket_id, _h.id)
)
_GET_MANY = _SELECT.where(db.tickets.c.id.in_(bindparam("ids", expanding=True)))
_GET_MANY_LOCKED = _GET_MANY.with_for_update()


_UPDATE = update(db.tickets).where(
    db.tickets.c.id == bindparam("b_id"), db.tickets.c.version == bindparam("b_version")
)
_ADD_HISTORY = insert(db.ticket_history)


def _stale(tickets: list[Ticket]) -> Conflict:
    return Conflict(f"工单 {'、'.join(t.ref for t in tickets)} 刚被其他人修改，请重试")


class SqlTicketRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self.seen: dict[int, Ticket] = {}
        self.saved: dict[int, Ticket] = {}  # added or changed in this unit of work
        self._held: dict[int, int] = {}  # deferred saves: ticket id -> version in the database
        self._locked: set[int] = set()  # read FOR UPDATE (PostgreSQL): nobody else can change
        # the columns of the tickets read or written, as the database has them (while the
        # version is the one read, so does the row): a deferred save writes what differs
        self._stored: dict[int, dict[str, Any]] = {}

    async def next_id(self) -> int:
        """Numbers count from 1 per installation, without gaps (the counter row is locked)."""
        return await db.next_counter(self._conn, "ticket")

    async def add(self, ticket: Ticket) -> None:
        values = _row_values(ticket)
        await self._conn.execute(insert(db.tickets).values(**values, version=0))
        self._stored[ticket.id] = values
        await self._write_history(ticket)
        self.seen[ticket.id] = ticket
        self.saved[ticket.id] = ticket

    async def get(self, ticket_id: int, *, with_history: bool = True) -> Ticket | None:
        if ticket_id in self.seen:
            return self.seen[ticket_id]
        row = (await self._conn.execute(_SELECT.where(db.tickets.c.id == ticket_id))).first()
        if row is None:
            return None
        ticket = _from_row(row)
        self._stored[ticket_id] = dict(zip(_COLUMNS, row, strict=False))
        if with_history:
            rows = await self._conn.execute(
                select(db.ticket_history)
                .where(db.ticket_history.c.ticket_id == ticket_id)
                .order_by(db.ticket_history.c.id)
            )
            ticket.history = [history_from_row(r) for r in rows]
        self.seen[ticket_id] = ticket
        return ticket

    async def get_many(self, ids: list[int], *, lock: bool = False) -> list[Ticket]:
        """The tickets of ``ids`` that exist, with their histories, in two statements (those
        already read come from memory); ``lock`` reads them FOR UPDATE on PostgreSQL."""
        missing = [i for i in dict.fromkeys(ids) if i not in self.seen]
        if missing:
            stmt = _GET_MANY
            if lock and self._conn.dialect.name == "postgresql":
                stmt = _GET_MANY_LOCKED
                self._locked.update(missing)
            loaded = {}
            for row in await self._conn.execute(stmt, {"ids": missing}):
                loaded[row[0]] = _from_row(row)
                self._stored[row[0]] = dict(zip(_COLUMNS, row, strict=False))
            rows = await self._conn.execute(_HISTORIES, {"ids": list(loaded)})
            for ticket_id, at, actor_id, actor_name, channel, action, data in rows:
                loaded[ticket_id].history.append(
                    HistoryEntry(
                        at=at,
                        actor_id=actor_id,
                        actor_name=actor_name,
                        channel=channel,
                        action=action,
                        data=dict(data or {}),
                    )
                )
            self.seen.update(loaded)
        return [self.seen[i] for i in ids if i in self.seen]

    async def save(self, ticket: Ticket) -> None:
        """Write the changed ticket; a concurrent change in between is refused (version).
        While the unit of work defers writes, the ticket is written once, in its last state,
        when the held-back writes go out (core/deferred.py)."""
        writes = deferring(self._conn)
        if writes is not None:
            if ticket.id not in self._held:
                self._held[ticket.id] = ticket.version
                writes.add("tickets", "update", self._write_held, ticket.id)
            ticket.version += 1
            self.saved[ticket.id] = ticket
            for row in self._history_rows(ticket):
                writes.add("ticket_history", "insert", executemany(_ADD_HISTORY), row)
            ticket.new_history.clear()
            return
        values = _row_values(ticket)
        result = await self._conn.execute(
            update(db.tickets)
            .where(db.tickets.c.id == ticket.id, db.tickets.c.version == ticket.version)
            .values(**values, version=ticket.version + 1)
        )
        if result.rowcount != 1:
            raise Conflict(f"工单 {ticket.ref} 刚被其他人修改，请重试")
        self._stored[ticket.id] = values
        ticket.version += 1
        self.saved[ticket.id] = ticket
        await self._write_history(ticket)

    async def _write_held(self, conn: AsyncConnection, ids: list[int]) -> None:
        """The deferred saves: each ticket's last state, if its version is still the one read,
        in the columns that differ from the stored row (``fields`` always: a dict changed in
        place is not seen); tickets with the same columns changed go together (one executemany
        where the driver counts its rows, else locked ones together and the others one by
        one)."""
        tickets = [self.saved[i] for i in ids]
        rows, runs = {}, defaultdict(list)
        for t in tickets:
            values = _row_values(t)
            stored = self._stored.get(t.id)
            changed = {
                k: v for k, v in values.items() if stored is None or k == "fields" or v != stored[k]
            }
            rows[t.id] = {
                **changed,
                "version": t.version,
                "b_id": t.id,
                "b_version": self._held.pop(t.id),
            }
            runs[tuple(changed)].append(t)
            self._stored[t.id] = values
        for run in runs.values():
            await self._update(conn, run, rows)

    async def _update(
        self, conn: AsyncConnection, tickets: list[Ticket], rows: dict[int, dict[str, Any]]
    ) -> None:
        """One run of deferred saves that write the same columns."""
        if conn.dialect.supports_sane_multi_rowcount:
            result = await conn.execute(_UPDATE, [rows[t.id] for t in tickets])
            if result.rowcount != len(tickets):
                raise _stale(tickets)
            return
        locked = [rows[t.id] for t in tickets if t.id in self._locked]
        if locked:
            await conn.execute(_UPDATE, locked)  # the rows are ours until the commit
        for t in tickets:
            if t.id not in self._locked and (await conn.execute(_UPDATE, rows[t.id])).rowcount != 1:
                raise _stale([t])

    @staticmethod
    def _history_rows(ticket: Ticket) -> list[dict[str, Any]]:
        return [
            {
                "ticket_id": ticket.id,
                "at": e.at,
                "actor_id": e.actor_id,
                "actor_name": e.actor_name,
                "channel": e.channel,
                "action": e.action,
                "data": e.data,
            }
            for e in ticket.new_history
        ]

    async def _write_history(self, ticket: Ticket) -> None:
        if not ticket.new_history:
            return
        await self._conn.execute(_ADD_HISTORY, self._history_rows(ticket))
        ticket.new_history.clear()

    async def resolved_before(self, cutoff: datetime, *, limit: int) -> list[int]:
        """Resolved tickets resolved at or before ``cutoff``, oldest first: one index range."""
        t = db.tickets.c
        rows = await self._conn.execute(
            select(t.id)
            .where(t.status == Status.RESOLVED.value, t.resolved_at <= cutoff)
            .order_by(t.resolved_at, t.id)
            .limit(limit)
        )
        return [int(r[0]) for r in rows]

    def _conditions(self, flt: TicketFilter) -> list[Any]:
        t = db.tickets
        conds: list[Any] = []
        if flt.status:
            conds.append(t.c.status.in_(flt.status))
        if flt.assignee_id:
            conds.append(t.c.assignee_id == flt.assignee_id)
        if flt.requester_id:
            conds.append(t.c.requester_id == flt.requester_id)
        if flt.type:
            conds.append(t.c.type == flt.type)
        if flt.asset_id:
            conds.append(t.c.asset_id == flt.asset_id)
        return conds

    async def page(self, flt: TicketFilter) -> list[Ticket]:
        """Newest first; below ``before_id`` when given (keyset: no rows are skipped over)."""
        t = db.tickets
        conds = self._conditions(flt)
        if flt.before_id is not None:
            conds.append(t.c.id < flt.before_id)
        rows = await self._conn.execute(
            _SELECT.where(*conds).order_by(t.c.id.desc()).limit(flt.limit).offset(flt.offset)
        )
        return [_from_row(r) for r in rows]

    async def count(self, flt: TicketFilter) -> int:
        """How many tickets match the filters (``before_id``, limit and offset aside)."""
        t = db.tickets
        total = (
            await self._conn.execute(
                select(func.count()).select_from(t).where(*self._conditions(flt))
            )
        ).scalar()
        return int(total or 0)

    async def list(self, flt: TicketFilter) -> tuple[list[Ticket], int]:
        """A page and the count of all matching tickets (for short per-person lists)."""
        return await self.page(flt), await self.count(flt)
