"""The outbox: messages and cards written in the same transaction as the change they announce."""

from __future__ import annotations

import functools
import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core import db
from core.messages import Outbound
from core.queue import DEAD, DONE, PENDING, WORKING, unfinished
from core.wake import insert_announcing, insert_many_announcing
from core.write_lock import begin_write

FETCH_MEDIA = "fetch_media"  # a download queued by the inbox worker, not a message


def outbound_key(msg: Outbound) -> str:
    if msg.dedupe_key:
        return msg.dedupe_key
    digest = hashlib.sha256(
        repr(
            (msg.platform, msg.user_id, msg.conversation_id, msg.kind, msg.text, msg.card)
        ).encode()
    ).hexdigest()
    return f"auto:{digest}"


async def add(
    conn: AsyncConnection, msg: Outbound, *, at: datetime, due_at: datetime | None = None
) -> bool:
    """Queue a message; a second one with the same dedupe key is ignored. True when new.

    A new row also wakes the relay when the transaction commits (core/wake.py): on PostgreSQL
    the ``pg_notify`` rides along the INSERT ... RETURNING, so it costs no round trip.
    """
    row = outbox_row(msg, at=at, due_at=due_at)
    return await insert_announcing(conn, db.outbox, ["dedupe_key"], row, "outbox")


async def add_many(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Rows of :func:`outbox_row` queued together (multi-row INSERTs), in their order."""
    await insert_many_announcing(conn, db.outbox, ["dedupe_key"], rows, "outbox")


def outbox_row(msg: Outbound, *, at: datetime, due_at: datetime | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "text": msg.text,
        "card": msg.card,
        "coalesce": msg.coalesce,
        **msg.extra,
    }
    return {
        "dedupe_key": outbound_key(msg),
        "platform": msg.platform,
        "user_id": msg.user_id,
        "conversation_id": msg.conversation_id,
        "kind": msg.kind,
        "card_key": msg.card_key,
        "ticket_id": msg.ticket_id,
        "payload": payload,
        "status": PENDING,
        "attempts": 0,
        "created_at": at,
        "due_at": due_at or at,
        "error": "",
    }


@functools.cache
def _claim_statements(dialect: str) -> tuple[Any, Any, Any]:
    """The claim's three statements, built once per dialect (the relay claims after every
    wake-up, often for one or two rows, and building them cost more than running them)."""
    o, e = db.outbox, db.outbox.alias("earlier")
    now = bindparam("now")
    waiting = (
        select(e.c.id)
        .where(
            e.c.platform == o.c.platform,
            e.c.user_id == o.c.user_id,
            e.c.conversation_id == o.c.conversation_id,
            e.c.id < o.c.id,
            e.c.kind != FETCH_MEDIA,
            unfinished(e.c.status),
            e.c.due_at > now,
            or_(e.c.status == WORKING, e.c.attempts > 0),
        )
        .exists()
    )
    pick = (
        select(o.c.id, o.c.platform, o.c.user_id, o.c.conversation_id, o.c.kind)
        .where(o.c.status.in_((PENDING, WORKING)), o.c.due_at <= now)
        .where(or_(o.c.kind == FETCH_MEDIA, ~waiting))
        .order_by(o.c.id)
        .limit(bindparam("limit"))
    )
    if dialect == "postgresql":
        pick = pick.with_for_update(of=o, skip_locked=True)
    others = select(o.c.id, o.c.platform, o.c.user_id, o.c.conversation_id).where(
        unfinished(o.c.status),
        o.c.user_id.in_(bindparam("users", expanding=True)),
        o.c.kind != FETCH_MEDIA,
        o.c.id < bindparam("below"),
        o.c.id.not_in(bindparam("ids", expanding=True)),
        or_(o.c.due_at <= now, o.c.status == WORKING, o.c.attempts > 0),
    )
    take = (
        update(o)
        .where(o.c.id.in_(bindparam("ids", expanding=True)))
        .values(status=WORKING, due_at=bindparam("lease_until"), attempts=o.c.attempts + 1)
        .returning(*o.c)
    )
    return pick, others, take


async def claim_outbox(
    conn: AsyncConnection, *, now: datetime, limit: int = 20, lease_s: float = 60
) -> list[dict[str, Any]]:
    """Claim due rows, oldest first, keeping each recipient's messages in order.

    A row is not claimed while an earlier row to the same recipient is unfinished and not due:
    in flight under another claim, or waiting for a retry (rows scheduled for later that were
    never tried do not hold the others back). On PostgreSQL the claim skips rows that another
    relay is claiming at the same moment; a row whose earlier sibling is among them is left
    for the next claim too. Media downloads have no recipient order.
    """
    pick, others, take = _claim_statements(conn.dialect.name)
    await begin_write(conn)  # SQLite: a claim reads, then writes what it read
    picked = (await conn.execute(pick, {"now": now, "limit": limit})).all()
    if not picked:
        return []
    ids = [r.id for r in picked]
    if conn.dialect.name == "postgresql":
        ids = await _in_order(conn, others, picked, now)
    if not ids:
        return []
    lease_until = now + timedelta(seconds=lease_s)
    result = await conn.execute(take, {"ids": ids, "lease_until": lease_until})
    return sorted((dict(r._mapping) for r in result), key=lambda r: r["id"])


async def _in_order(
    conn: AsyncConnection, others: Any, picked: list[Any], now: datetime
) -> list[int]:
    """Drop picked rows that an unfinished earlier row to the same recipient, not picked here
    (another relay is claiming it right now), must precede."""
    ids = {r.id for r in picked}
    users = {r.user_id for r in picked if r.kind != FETCH_MEDIA}
    if not users:
        return sorted(ids)
    first: dict[tuple[str, str, str], int] = {}
    found = await conn.execute(
        others, {"users": sorted(users), "below": max(ids), "ids": sorted(ids), "now": now}
    )
    for r in found:
        key = (r.platform, r.user_id, r.conversation_id)
        first[key] = min(first.get(key, r.id), r.id)
    return sorted(
        r.id
        for r in picked
        if r.kind == FETCH_MEDIA
        or r.id < first.get((r.platform, r.user_id, r.conversation_id), r.id + 1)
    )


_SENT = (
    update(db.outbox)
    .where(db.outbox.c.id.in_(bindparam("ids", expanding=True)))
    .values(status=DONE, sent_at=bindparam("at"), error="")
)


async def mark_sent(conn: AsyncConnection, row_ids: list[int], *, at: datetime) -> None:
    await conn.execute(_SENT, {"ids": row_ids, "at": at})


async def mark_retry(conn: AsyncConnection, row_id: int, *, error: str, due_at: datetime) -> None:
    await conn.execute(
        update(db.outbox)
        .where(db.outbox.c.id == row_id)
        .values(status=PENDING, due_at=due_at, error=error[:2000])
    )


async def mark_deferred(conn: AsyncConnection, row_id: int, *, due_at: datetime) -> None:
    """Put a claimed row back for later without counting the claim as a failed attempt."""
    await conn.execute(
        update(db.outbox)
        .where(db.outbox.c.id == row_id)
        .values(status=PENDING, due_at=due_at, attempts=db.outbox.c.attempts - 1)
    )


async def mark_dead(conn: AsyncConnection, row_id: int, *, error: str) -> None:
    await conn.execute(
        update(db.outbox).where(db.outbox.c.id == row_id).values(status=DEAD, error=error[:2000])
    )


async def pending_count(conn: AsyncConnection) -> int:
    return int(
        (
            await conn.execute(
                select(func.count()).select_from(db.outbox).where(db.outbox.c.status != DONE)
            )
        ).scalar()
        or 0
    )
