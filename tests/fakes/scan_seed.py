"""Two years of history in bulk, for the plans test and bench/scans.py: ``n`` tickets (almost all
closed; the newest 200 open, a quarter of those resolved an hour ago), three history rows and
one offer per ticket, 100 engineers and 1,000 customers, written with one ``INSERT ... SELECT``
per table over a generated series (``generate_series`` on PostgreSQL, a recursive CTE on
SQLite), then ANALYZE.

``lapse`` turns given tickets into assigned ones whose offer lapsed (what the accept-timeout
scan re-dispatches).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core import db
from core.people.directory import person_from_config
from core.settings import PersonConfig
from core.uow import SqlUnitOfWork

SPAN_DAYS = 730
OPEN_NEWEST = 200  # the newest tickets are open (new, assigned, accepted or just resolved)
STAFF = 100
CUSTOMERS = 1000


def engineers(n: int = STAFF) -> list[PersonConfig]:
    return [
        PersonConfig(id=f"e{i}", name=f"工程师{i}", roles=["engineer"], wecom_userid=f"e{i}")
        for i in range(n)
    ]


def desk_config(people: Sequence[PersonConfig]) -> dict[str, object]:
    return {
        "people": [p.model_dump(mode="json", exclude_defaults=True) for p in people],
        "assignment": {"auto_dispatch": False, "accept_timeout_minutes": 15},
    }


class _Sql:
    """The few expressions that differ between the two dialects."""

    def __init__(self, conn: AsyncConnection, base: datetime) -> None:
        self.pg = conn.dialect.name == "postgresql"
        self.base = base.astimezone(UTC).replace(tzinfo=None)

    def series(self, n: int) -> tuple[str, str]:
        """(a WITH prefix, a FROM clause) giving the integers 1..n as ``g``."""
        if self.pg:
            return "", f"generate_series(1, {n}) AS s(g)"
        return (
            f"WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {n}) ",
            "s",
        )

    def at(self, seconds: str) -> str:
        """The instant ``seconds`` (an SQL expression) after the base."""
        base = self.base.strftime("%Y-%m-%d %H:%M:%S")
        if self.pg:
            return f"(timestamptz '{base}+00' + ({seconds}) * interval '1 second')"
        return f"strftime('%Y-%m-%d %H:%M:%S.000000', '{base}', '+' || ({seconds}) || ' seconds')"

    def json(self, literal: str) -> str:
        return f"'{literal}'::json" if self.pg else f"'{literal}'"


async def seed(engine: AsyncEngine, n: int, now: datetime) -> list[PersonConfig]:
    """Write the history (into an empty, migrated database); returns the engineers."""
    staff = engineers()
    async with SqlUnitOfWork(engine) as uow:
        for cfg in staff:
            await uow.people.upsert(person_from_config(cfg), at=now)
        await uow.commit()
    step = SPAN_DAYS * 86400 // n
    async with engine.begin() as conn:
        q = _Sql(conn, now - timedelta(days=SPAN_DAYS))
        created = q.at(f"g * {step}")
        with_, series = q.series(CUSTOMERS)
        await conn.execute(
            text(
                f"{with_}INSERT INTO people (id, name, kind, roles, region, skills, on_duty, "
                "max_open, phone, active, created_at, prefer_platform, last_platform) "
                f"SELECT 'c' || g, '客户' || g, 'customer', {q.json('[]')}, '', {q.json('[]')}, "
                f"true, 8, '', true, {q.at('0')}, '', '' FROM {series}"
            )
        )
        opened = f"g > {n - OPEN_NEWEST}"
        status = (
            f"CASE WHEN {opened} THEN (CASE g % 4 WHEN 0 THEN 'new' WHEN 1 THEN 'assigned' "
            "WHEN 2 THEN 'accepted' ELSE 'resolved' END) "
            "WHEN g % 25 = 0 THEN 'cancelled' ELSE 'closed' END"
        )
        done = f"NOT ({opened}) AND g % 25 <> 0"
        with_, series = q.series(n)
        await conn.execute(
            text(
                f"{with_}INSERT INTO tickets (id, type, title, description, priority, status, "
                "requester_id, assignee_id, fields, channel, created_at, updated_at, "
                "first_response_at, resolved_at, closed_at, response_due_at, resolve_due_at, "
                "rating, rating_comment, parts_cost, decline_count, version) "
                f"SELECT g, 'repair', '设备报修 ' || g, '', 'normal', {status}, "
                f"'c' || (g % {CUSTOMERS} + 1), "
                f"CASE WHEN {opened} AND g % 4 = 0 THEN NULL ELSE 'e' || (g % {STAFF}) END, "
                f"{q.json('{}')}, 'wecom', {created}, {created}, "
                f"CASE WHEN {done} THEN {q.at(f'g * {step} + 600')} END, "
                f"CASE WHEN {done} THEN {q.at(f'g * {step} + 7200')} "
                f"WHEN {opened} AND g % 4 = 3 THEN {q.at(str(SPAN_DAYS * 86400 - 3600))} END, "
                f"CASE WHEN {done} THEN {q.at(f'g * {step} + 86400')} END, "
                f"{q.at(f'g * {step} + 3600')}, {q.at(f'g * {step} + 28800')}, "
                f"CASE WHEN {done} AND g % 3 = 0 THEN 1 + g % 5 END, '', 0, 0, 1 FROM {series}"
            )
        )
        with_, series = q.series(3 * n)
        tid = "((g + 2) / 3)"
        await conn.execute(
            text(
                f"{with_}INSERT INTO ticket_history (ticket_id, at, actor_id, actor_name, "
                "channel, action, data) "
                f"SELECT {tid}, {q.at(f'{tid} * {step} + g % 3')}, 'e' || (g % {STAFF}), '工程师', "
                f"'wecom', CASE g % 3 WHEN 1 THEN 'created' ELSE 'status_changed' END, "
                f"{q.json('{}')} FROM {series}"
            )
        )
        with_, series = q.series(n)
        await conn.execute(
            text(
                f"{with_}INSERT INTO offers (ticket_id, round, person_id, card_key, mode, status, "
                "offered_at, assigned_at, closed_at, reason) "
                f"SELECT g, 1, 'e' || (g % {STAFF}), 't' || g || '_assign_1', 'direct', "
                f"'accepted', {created}, {created}, {created}, '' FROM {series}"
            )
        )
        await conn.execute(
            update(db.counters).where(db.counters.c.name == "ticket").values(value=n)
        )
        await conn.execute(
            update(db.counters).where(db.counters.c.name == "customer").values(value=CUSTOMERS)
        )
        if conn.dialect.name == "postgresql":
            await conn.execute(text(f"SELECT setval('{db.CUSTOMER_SEQUENCE}', {CUSTOMERS})"))
    await analyze(engine)
    return staff


async def analyze(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
        else:
            await conn.execute(text("ANALYZE"))
            await conn.commit()


async def lapse(conn: AsyncConnection, ids: Sequence[int], offered_at: datetime) -> None:
    """These tickets become assigned to their first engineer, whose offer is open since
    ``offered_at`` (the accept-timeout scan finds them lapsed)."""
    t, o = db.tickets, db.offers
    await conn.execute(
        update(t)
        .where(t.c.id.in_(bindparam("ids", expanding=True)))
        .values(status="assigned", first_response_at=None, resolved_at=None, closed_at=None),
        {"ids": list(ids)},
    )
    await conn.execute(
        update(o)
        .where(o.c.ticket_id.in_(bindparam("ids", expanding=True)))
        .values(status="open", closed_at=None, offered_at=offered_at),
        {"ids": list(ids)},
    )
