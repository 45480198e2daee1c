"""Shared helpers for end-to-end tests: waiting for the workers, reading the inbox."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from core import db
from webhooks.keys import SERVICES


async def eventually(
    check: Callable[[], Any], *, timeout: float = 15.0, every: float = 0.05
) -> Any:
    """Poll ``check`` until it returns something truthy; fail with its last value otherwise."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")
        await asyncio.sleep(every)


async def inbox_count(app: Any, platform: str | None = None) -> int:
    engine = app[SERVICES].engine
    stmt = select(func.count()).select_from(db.inbox)
    if platform:
        stmt = stmt.where(db.inbox.c.platform == platform)
    async with engine.connect() as conn:
        return int((await conn.execute(stmt)).scalar() or 0)


async def outbox_rows(app: Any) -> list[dict[str, Any]]:
    async with app[SERVICES].engine.connect() as conn:
        rows = await conn.execute(select(db.outbox).order_by(db.outbox.c.id))
        return [dict(r._mapping) for r in rows]


async def ticket_history(app: Any, ticket_id: int) -> list[str]:
    async with app[SERVICES].engine.connect() as conn:
        rows = await conn.execute(
            select(db.ticket_history.c.action, db.ticket_history.c.data)
            .where(db.ticket_history.c.ticket_id == ticket_id)
            .order_by(db.ticket_history.c.id)
        )
        return [r.action + (f":{r.data.get('to')}" if r.data.get("to") else "") for r in rows]
