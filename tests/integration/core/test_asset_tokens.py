"""QR tokens and the registry on the real database (SQLite and, when set, PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core import db
from core.assets.model import Asset
from core.uow import SqlUnitOfWork
from webhooks.bootstrap import migrate

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.make_engine(database_url)
    await migrate(engine)
    async with SqlUnitOfWork(engine) as uow:
        await uow.assets.upsert(Asset(id="HX-2000-01", model="HX-2000", region="华东"), at=T0)
        await uow.assets.upsert(Asset(id="HX-2000-02", model="HX-2000"), at=T0)
        await uow.commit()
    yield engine
    await engine.dispose()


async def test_one_live_token_until_revoked(engine: AsyncEngine) -> None:
    async with SqlUnitOfWork(engine) as uow:
        first = await uow.assets.token_for("HX-2000-01", at=T0)
        assert await uow.assets.token_for("HX-2000-01", at=T0) == first  # stable for printing
        other = await uow.assets.token_for("HX-2000-02", at=T0)
        assert len(first) >= 32 and other != first
        assert (await uow.assets.by_token(first)).id == "HX-2000-01"
        assert await uow.assets.revoke_tokens("HX-2000-01", at=T0 + timedelta(days=1)) == 1
        assert await uow.assets.by_token(first) is None  # the printed code is refused
        assert (await uow.assets.by_token(other)).id == "HX-2000-02"  # others unaffected
        second = await uow.assets.token_for("HX-2000-01", at=T0 + timedelta(days=1))
        assert second != first and (await uow.assets.by_token(second)).id == "HX-2000-01"
        assert await uow.assets.by_token("no-such-token-at-all-xxxxxxxx") is None
        await uow.commit()


async def test_upsert_ignores_case_and_text_lookup_prefers_the_longest(engine: AsyncEngine) -> None:
    async with SqlUnitOfWork(engine) as uow:
        assert await uow.assets.upsert(Asset(id="hx-2000-01", model="新型号"), at=T0) is False
        got = await uow.assets.get("Hx-2000-01")
        assert got.id == "HX-2000-01" and got.model == "新型号"
        await uow.assets.upsert(Asset(id="HX-2000", model="整机"), at=T0)
        found = await uow.assets.find_in_text("设备HX-2000-02，报警")
        assert found.id == "HX-2000-02"
        assert await uow.assets.find_in_text("A-99 不认识") is None
        await uow.commit()
