"""The inbox: every verified inbound item is stored once before the platform gets its ack."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from core import db
from core.queue import DEAD, DONE, PENDING, claim
from core.wake import insert_announcing


async def insert_items(conn: AsyncConnection, items: list[dict[str, Any]], *, at: datetime) -> int:
    """Insert inbound items (``platform``, ``dedupe_key``, ``kind``, ``payload``); duplicates are
    ignored. Returns how many rows are new."""
    if not items:
        return 0
    rows = [
        {
            "platform": i["platform"],
            "dedupe_key": i["dedupe_key"],
            "kind": i["kind"],
            "payload": i["payload"],
            "status": PENDING,
            "attempts": 0,
            "received_at": at,
            "available_at": at,
            "error": "",
        }
        for i in items
    ]
    inserted = 0
    for row in rows:  # a new row wakes the inbox worker at commit (core/wake.py)
        unique = ["platform", "dedupe_key"]
        inserted += await insert_announcing(conn, db.inbox, unique, row, "inbox")
    return inserted


async def claim_inbox(
    conn: AsyncConnection, *, now: datetime, limit: int = 20, lease_s: float = 60
) -> list[dict[str, Any]]:
    return await claim(
        conn,
        db.inbox,
        due_column="available_at",
        now=now,
        limit=limit,
        lease=timedelta(seconds=lease_s),
    )


async def mark_done(conn: AsyncConnection, row_id: int, *, at: datetime) -> None:
    await conn.execute(
        update(db.inbox)
        .where(db.inbox.c.id == row_id)
        .values(status=DONE, processed_at=at, error="")
    )


async def mark_failed(
    conn: AsyncConnection, row_id: int, *, error: str, retry_at: datetime | None
) -> None:
    """Schedule another try, or dead-letter the row when ``retry_at`` is None."""
    values: dict[str, Any] = {"error": error[:2000]}
    if retry_at is None:
        values["status"] = DEAD
    else:
        values.update(status=PENDING, available_at=retry_at)
    await conn.execute(update(db.inbox).where(db.inbox.c.id == row_id).values(**values))
