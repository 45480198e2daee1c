"""The outbox: messages and cards written in the same transaction as the change they announce."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core import db
from core.messages import Outbound
from core.queue import DEAD, DONE, PENDING, claim
from core.wake import insert_announcing


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
    payload: dict[str, Any] = {
        "text": msg.text,
        "card": msg.card,
        "coalesce": msg.coalesce,
        **msg.extra,
    }
    row = {
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
    return await insert_announcing(conn, db.outbox, ["dedupe_key"], row, "outbox")


async def claim_outbox(
    conn: AsyncConnection, *, now: datetime, limit: int = 20, lease_s: float = 60
) -> list[dict[str, Any]]:
    return await claim(
        conn, db.outbox, due_column="due_at", now=now, limit=limit, lease=timedelta(seconds=lease_s)
    )


async def mark_sent(conn: AsyncConnection, row_ids: list[int], *, at: datetime) -> None:
    await conn.execute(
        update(db.outbox)
        .where(db.outbox.c.id.in_(row_ids))
        .values(status=DONE, sent_at=at, error="")
    )


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
