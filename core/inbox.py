"""The inbox: every verified inbound item is stored once before the platform gets its ack."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core import db
from core.people.ids import valid_user_id
from core.queue import DEAD, DONE, PENDING, WORKING, unfinished
from core.wake import insert_announcing
from core.write_lock import begin_write

MAX_KEY = 200


def person_key(platform: str, payload: dict[str, Any]) -> str:
    """Whose message this is: their rows are handled one at a time, in arrival order."""
    user_id = payload.get("user_id") if isinstance(payload, dict) else None
    if not isinstance(user_id, str) or not valid_user_id(platform, user_id):
        return ""  # no sound sender (the worker dead-letters such a row): no order to keep
    return f"{platform}:{user_id}"[:MAX_KEY]


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
            "person_key": person_key(i["platform"], i["payload"]),
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


@functools.cache
def _claim_statements(dialect: str) -> tuple[Any, Any]:
    """The claim's two statements, built once per dialect (claims follow every wake-up)."""
    i, j = db.inbox, db.inbox.alias("earlier")
    waiting_behind = exists().where(
        j.c.person_key == i.c.person_key,
        j.c.id < i.c.id,
        unfinished(j.c.status),
    )
    pick = (
        select(i.c.id)
        .where(
            i.c.status.in_((PENDING, WORKING)),
            i.c.available_at <= bindparam("now"),
            (i.c.person_key == "") | ~waiting_behind,
        )
        .order_by(i.c.available_at, i.c.id)
        .limit(bindparam("limit"))
    )
    if dialect == "postgresql":
        pick = pick.with_for_update(of=i, skip_locked=True)
    take = (
        update(i)
        .where(i.c.id.in_(bindparam("ids", expanding=True)))
        .values(status=WORKING, available_at=bindparam("lease_until"), attempts=i.c.attempts + 1)
        .returning(*i.c)
    )
    return pick, take


async def claim_inbox(
    conn: AsyncConnection, *, now: datetime, limit: int = 20, lease_s: float = 60
) -> list[dict[str, Any]]:
    """Claim due rows, oldest first, taking of each person only the earliest unfinished row: the
    rows of one claim belong to different people (and may run concurrently), and a person's next
    row becomes claimable once the one before it is done or dead-lettered. On PostgreSQL the
    claim skips rows another worker holds (``FOR UPDATE SKIP LOCKED``)."""
    pick, take = _claim_statements(conn.dialect.name)
    await begin_write(conn)  # SQLite: a claim reads, then writes what it read
    ids = [r.id for r in await conn.execute(pick, {"now": now, "limit": limit})]
    if not ids:
        return []
    lease_until = now + timedelta(seconds=lease_s)
    result = await conn.execute(take, {"ids": ids, "lease_until": lease_until})
    return sorted((dict(r._mapping) for r in result), key=lambda r: r["id"])


_DONE = (  # built once: every chat turn ends with it
    update(db.inbox)
    .where(
        db.inbox.c.id == bindparam("row_id"),
        db.inbox.c.status == WORKING,
        db.inbox.c.attempts == bindparam("attempt"),
    )
    .values(status=DONE, processed_at=bindparam("at"), error="")
)


async def mark_done(
    conn: AsyncConnection, row_id: int, *, at: datetime, attempt: int | None = None
) -> bool:
    """Mark the row handled. With ``attempt``, only while that claim still holds it (False when
    its lease ran out and another worker claimed it: the caller then rolls back)."""
    if attempt is not None:
        result = await conn.execute(_DONE, {"row_id": row_id, "attempt": attempt, "at": at})
    else:
        stmt = update(db.inbox).where(db.inbox.c.id == row_id)
        result = await conn.execute(stmt.values(status=DONE, processed_at=at, error=""))
    return bool(result.rowcount)


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
