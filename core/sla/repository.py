"""SLA clocks in the database: one row per ticket and target, with the indexed next check.

The scan owns ``warned_at`` / ``breached_at``: a recomputation never writes them, and it derives
``check_at`` from them in SQL, so a ticket saved while the scan marks it cannot undo the mark.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, delete, insert, literal, null, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core import db
from core.deferred import deferring, executemany
from core.sla.clocks import Clock, Pause
from core.tickets.model import HistoryEntry
from core.tickets.workflow import OPEN_STATUSES

_DEFINITION = (
    "calendar minutes warn_seconds started_at due_at warn_at met_at stopped pauses policy"
).split()


def _pauses_out(pauses: tuple[Pause, ...]) -> list[dict[str, Any]]:
    return [
        {
            "from": p.start.isoformat(),
            "to": p.end.isoformat() if p.end else None,
            "status": p.status,
        }
        for p in pauses
    ]


def _pauses_in(raw: Any) -> tuple[Pause, ...]:
    return tuple(
        Pause(
            datetime.fromisoformat(p["from"]),
            datetime.fromisoformat(p["to"]) if p.get("to") else None,
            str(p.get("status", "")),
        )
        for p in raw or []
    )


def _values(clock: Clock) -> dict[str, Any]:
    values = {name: getattr(clock, name) for name in _DEFINITION}
    values["pauses"] = _pauses_out(clock.pauses)
    return values


def clock_from_row(row: Any) -> Clock:
    m = row._mapping
    return Clock(
        name=m["name"],
        **{k: m[k] for k in _DEFINITION if k != "pauses"},
        pauses=_pauses_in(m["pauses"]),
        warned_at=m["warned_at"],
        breached_at=m["breached_at"],
    )


def _same(a: Clock, b: Clock) -> bool:
    return all(getattr(a, k) == getattr(b, k) for k in _DEFINITION)


class SqlSlaRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._known: dict[int, dict[str, Clock]] = {}  # clocks read with ``preload``

    async def get(self, ticket_id: int) -> dict[str, Clock]:
        if ticket_id in self._known:
            return dict(self._known[ticket_id])
        c = db.sla_clocks.c
        rows = await self._conn.execute(select(db.sla_clocks).where(c.ticket_id == ticket_id))
        return {r.name: clock_from_row(r) for r in rows}

    async def preload(self, ticket_ids: list[int]) -> None:
        """Read the clocks of many tickets in one statement for ``store`` to compare with
        (kept current by ``store``; the scan's marks are not: only ``store`` may use them)."""
        missing = [i for i in dict.fromkeys(ticket_ids) if i not in self._known]
        if missing:
            self._known.update({i: {} for i in missing})
            self._known.update(await self.many(missing))

    async def many(self, ticket_ids: list[int]) -> dict[int, dict[str, Clock]]:
        out: dict[int, dict[str, Clock]] = {}
        if not ticket_ids:
            return out
        rows = await self._conn.execute(_OF_TICKETS, {"ids": list(ticket_ids)})
        for r in rows:
            out.setdefault(r.ticket_id, {})[r.name] = clock_from_row(r)
        return out

    async def store(self, ticket_id: int, clocks: dict[str, Clock]) -> None:
        """Write what changed; the scan's marks stay, and the next check follows from them."""
        t = db.sla_clocks
        before = await self.get(ticket_id)
        if ticket_id in self._known:
            self._known[ticket_id] = dict(clocks)
        writes = deferring(self._conn)
        for name, clock in clocks.items():
            old = before.get(name)
            if old is not None and _same(old, clock):
                continue
            if old is None:
                row = {"ticket_id": ticket_id, "name": name, **_values(clock)}
                row["check_at"] = clock.check_at
                if writes is not None:
                    writes.add("sla_clocks", "insert", executemany(_INSERT), row)
                else:
                    await self._conn.execute(_INSERT, row)
                continue
            row = {**_values(clock), **_check_params(clock), "k_ticket": ticket_id, "k_name": name}
            if writes is not None:
                writes.add("sla_clocks", "update", executemany(_UPDATE), row)
            else:
                await self._conn.execute(_UPDATE, row)
        gone = [n for n in before if n not in clocks]
        if gone:
            await self._conn.execute(
                delete(t).where(t.c.ticket_id == ticket_id, t.c.name.in_(gone))
            )

    async def claim(self, now: datetime, limit: int) -> list[tuple[int, Clock]]:
        """Clocks whose next check is due, locked for this transaction; rows another
        instance holds are skipped (PostgreSQL), so each is handled by one scan."""
        c = db.sla_clocks.c
        stmt = select(db.sla_clocks).where(c.check_at <= now).order_by(c.check_at).limit(limit)
        if self._conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        return [(r.ticket_id, clock_from_row(r)) for r in await self._conn.execute(stmt)]

    async def claim_warnings_until(
        self,
        after: datetime,
        until: datetime,
        limit: int,
        *,
        assignees: list[str],
        unassigned: bool,
    ) -> list[tuple[int, Clock]]:
        """Warnings falling due soon for tickets of ``assignees`` (and unassigned ones when
        ``unassigned``), to merge into the cards going out now; locked like ``claim``."""
        c, t = db.sla_clocks.c, db.tickets.c
        whose = t.assignee_id.in_(assignees)
        if unassigned:
            whose = or_(whose, t.assignee_id.is_(None))
        stmt = (
            select(db.sla_clocks)
            .select_from(db.sla_clocks.join(db.tickets, t.id == c.ticket_id))
            .where(
                c.check_at > after,
                c.check_at <= until,
                c.warned_at.is_(None),
                c.check_at == c.warn_at,
                whose,
            )
            .order_by(c.check_at)
            .limit(limit)
        )
        if self._conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True, of=db.sla_clocks)
        return [(r.ticket_id, clock_from_row(r)) for r in await self._conn.execute(stmt)]

    async def mark(self, ticket_id: int, name: str, mark: str, at: datetime) -> bool:
        """Set ``warned_at`` or ``breached_at`` once; False when it was already set."""
        t = db.sla_clocks
        column = t.c[mark]
        next_check = t.c.due_at if mark == "warned_at" else null()
        result = await self._conn.execute(
            update(t)
            .where(
                t.c.ticket_id == ticket_id,
                t.c.name == name,
                column.is_(None),
                t.c.breached_at.is_(None),
            )
            .values({mark: at, "check_at": next_check})
        )
        return result.rowcount == 1

    async def reschedule(self, ticket_id: int, name: str, check_at: datetime | None) -> None:
        t = db.sla_clocks
        await self._conn.execute(
            update(t).where(t.c.ticket_id == ticket_id, t.c.name == name).values(check_at=check_at)
        )

    async def add_history(self, ticket_id: int, entry: HistoryEntry) -> None:
        """A history line that needs no change of the ticket itself (no version bump)."""
        await self._conn.execute(
            insert(db.ticket_history).values(
                ticket_id=ticket_id,
                at=entry.at,
                actor_id=entry.actor_id,
                actor_name=entry.actor_name,
                channel=entry.channel,
                action=entry.action,
                data=entry.data,
            )
        )

    async def stale(
        self, current: dict[tuple[str, str], str], after_id: int, limit: int
    ) -> list[int]:
        """Open tickets whose clocks were computed under another policy (or never)."""
        t, c = db.tickets, db.sla_clocks.c
        fresh = [
            and_(t.c.type == typ, t.c.priority == prio, c.policy == stamp)
            for (typ, prio), stamp in current.items()
        ]
        joined = t.outerjoin(db.sla_clocks, and_(c.ticket_id == t.c.id, c.name == "response"))
        stmt = (
            select(t.c.id)
            .select_from(joined)
            .where(
                t.c.id > after_id,
                t.c.status.in_([s.value for s in OPEN_STATUSES]),
                or_(c.ticket_id.is_(None), ~or_(*fresh) if fresh else literal(True)),
            )
            .order_by(t.c.id)
            .limit(limit)
        )
        return [r.id for r in await self._conn.execute(stmt)]


def _check_params(clock: Clock) -> dict[str, datetime | None]:
    """The new definition's next checks for ``_UPDATE``, which keeps the row's own marks: none
    when the clock is met, stopped or paused; else the warning (if it comes before the due
    time) until warned, then the due time."""
    if clock.met_at or clock.stopped or clock.due_at is None:
        return {"c_warn": None, "c_due": None}
    warn = clock.warn_at if clock.warn_at and clock.warn_at < clock.due_at else clock.due_at
    return {"c_warn": warn, "c_due": clock.due_at}


_T = db.sla_clocks
_INSERT = insert(_T)
_OF_TICKETS = select(_T).where(_T.c.ticket_id.in_(bindparam("ids", expanding=True)))
_UPDATE = (
    update(_T)
    .where(_T.c.ticket_id == bindparam("k_ticket"), _T.c.name == bindparam("k_name"))
    .values(
        check_at=case(
            (_T.c.breached_at.is_not(None), null()),
            (_T.c.warned_at.is_(None), bindparam("c_warn", type_=db.TS)),
            else_=bindparam("c_due", type_=db.TS),
        )
    )
)
