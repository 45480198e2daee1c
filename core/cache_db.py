"""The Cache port on the application's database (table ``cache_entries``), for SQLite and
PostgreSQL: what FallbackCache uses while Redis is unreachable.

Every operation is one statement in its own short transaction; the conditional ones are
upserts (``INSERT .. ON CONFLICT DO UPDATE .. WHERE expired``), so concurrent instances agree
through the primary key: a lock is a row with a holder token and an expiry, taken only when
absent or expired and released only by its holder. Expiry is compared with each instance's UTC
wall clock (keep the clocks in sync, as for every other due time in the database).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Text, and_, case, cast, delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from core.cache import LockTimeout
from core.db import cache_entries as t

LOCK_POLL_S = 0.05
SWEEP_EVERY_S = 60.0  # expired rows are deleted at most this often (per instance)


def _now() -> datetime:
    return datetime.now(UTC)


class DbCache:
    def __init__(self, engine: AsyncEngine, *, clock: Callable[[], datetime] = _now) -> None:
        self._engine = engine
        self._clock = clock
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        self._insert: Any = dialect.insert
        self._next_sweep = 0.0

    def _expiry(self, now: datetime, ttl: float | None) -> datetime | None:
        return now + timedelta(seconds=ttl) if ttl else None

    @staticmethod
    def _alive(now: datetime) -> Any:
        return or_(t.c.expires_at.is_(None), t.c.expires_at > now)

    async def _sweep(self) -> None:
        if time.monotonic() < self._next_sweep:
            return
        self._next_sweep = time.monotonic() + SWEEP_EVERY_S
        async with self._engine.begin() as conn:
            await conn.execute(delete(t).where(t.c.expires_at <= self._clock()))

    async def add_if_absent(self, key: str, ttl: float, value: str = "1") -> bool:
        now = self._clock()
        stmt = self._insert(t).values(key=key, value=value, expires_at=self._expiry(now, ttl))
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.key],
            set_={"value": stmt.excluded.value, "expires_at": stmt.excluded.expires_at},
            where=t.c.expires_at <= now,  # a live (or permanent) key stays as it is
        ).returning(t.c.key)
        async with self._engine.begin() as conn:
            taken = (await conn.execute(stmt)).first() is not None
        await self._sweep()
        return taken

    async def get(self, key: str) -> str | None:
        async with self._engine.connect() as conn:
            found = await conn.execute(
                select(t.c.value).where(t.c.key == key, self._alive(self._clock()))
            )
            return found.scalar()

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        stmt = self._insert(t).values(
            key=key, value=value, expires_at=self._expiry(self._clock(), ttl)
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.key],
            set_={"value": stmt.excluded.value, "expires_at": stmt.excluded.expires_at},
        )
        async with self._engine.begin() as conn:
            await conn.execute(stmt)

    async def delete(self, key: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(delete(t).where(t.c.key == key))

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        now = self._clock()
        stmt = self._insert(t).values(key=key, value=str(amount), expires_at=self._expiry(now, ttl))
        expired = and_(t.c.expires_at.is_not(None), t.c.expires_at <= now)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.key],
            set_={
                "value": case(
                    (expired, stmt.excluded.value),
                    else_=cast(cast(t.c.value, BigInteger) + amount, Text),
                ),
                "expires_at": case((expired, stmt.excluded.expires_at), else_=t.c.expires_at),
            },
        ).returning(t.c.value)
        async with self._engine.begin() as conn:
            value = (await conn.execute(stmt)).scalar_one()
        await self._sweep()
        return int(value)

    async def incr_many(
        self, amounts: Mapping[str, int], ttl: float | None = None
    ) -> dict[str, int]:
        return {key: await self.incr(key, amount, ttl) for key, amount in amounts.items()}

    async def ttl(self, key: str) -> float | None:
        now = self._clock()
        async with self._engine.connect() as conn:
            found = await conn.execute(
                select(t.c.expires_at).where(t.c.key == key, self._alive(now))
            )
            expires = found.scalar()
        return (expires - now).total_seconds() if expires is not None else None

    @asynccontextmanager
    async def lock(self, name: str, ttl: float, wait: float = 10.0) -> AsyncIterator[None]:
        key = "lock:" + name
        token = uuid.uuid4().hex
        deadline = time.monotonic() + wait
        while not await self.add_if_absent(key, ttl, token):
            if time.monotonic() >= deadline:
                raise LockTimeout(name)
            await asyncio.sleep(LOCK_POLL_S)
        try:
            yield
        finally:
            async with self._engine.begin() as conn:  # only the holder's own row
                await conn.execute(delete(t).where(t.c.key == key, t.c.value == token))

    async def ping(self) -> bool:
        try:
            async with self._engine.connect() as conn:
                await conn.execute(select(1))
            return True
        except Exception:
            return False

    async def close(self) -> None:
        """The engine belongs to the application, which disposes of it."""
