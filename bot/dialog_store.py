"""Dialog state per person and platform, in the ``dialogs`` table (survives restarts, shared
by every instance)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core import db
from core.queue import insert_ignoring_duplicates

_WHO = (db.dialogs.c.platform == bindparam("platform"), db.dialogs.c.user_id == bindparam("uid"))
# built once: every chat turn reads the dialog, and a turn that ends one deletes it
_LOAD = select(db.dialogs.c.state, db.dialogs.c.expires_at).where(*_WHO)
_CLEAR = delete(db.dialogs).where(*_WHO)


async def load(
    conn: AsyncConnection, platform: str, user_id: str, *, now: datetime
) -> tuple[dict[str, Any] | None, bool]:
    """The live state, and whether an expired one was just removed."""
    row = (await conn.execute(_LOAD, {"platform": platform, "uid": user_id})).first()
    if row is None:
        return None, False
    if row.expires_at <= now:
        await clear(conn, platform, user_id)
        return None, True
    return dict(row.state), False


async def save(conn: AsyncConnection, platform: str, user_id: str, state: dict[str, Any]) -> None:
    expires_at = datetime.fromisoformat(state["expires_at"])
    values = {"state": state, "expires_at": expires_at}
    stmt = insert_ignoring_duplicates(conn, db.dialogs, ["platform", "user_id"]).returning(
        db.dialogs.c.user_id
    )
    inserted = (
        await conn.execute(stmt, {"platform": platform, "user_id": user_id, **values})
    ).all()
    if not inserted:
        await conn.execute(
            update(db.dialogs)
            .where(db.dialogs.c.platform == platform, db.dialogs.c.user_id == user_id)
            .values(**values)
        )


async def clear(conn: AsyncConnection, platform: str, user_id: str) -> None:
    await conn.execute(_CLEAR, {"platform": platform, "uid": user_id})


async def take_expired(
    conn: AsyncConnection, now: datetime, limit: int = 100
) -> list[tuple[str, str, dict[str, Any]]]:
    """Remove and return dialogs past their expiry (for the notice)."""
    stmt = select(db.dialogs).where(db.dialogs.c.expires_at <= now).limit(limit)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    rows = (await conn.execute(stmt)).all()
    for r in rows:
        await clear(conn, r.platform, r.user_id)
    return [(r.platform, r.user_id, dict(r.state)) for r in rows]
