"""Several instances starting together each sync the configured staff into the database: on
PostgreSQL they take turns (the same person is never inserted twice by two of them at once)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import func, select

from core import db
from core.settings import DeskConfig
from webhooks.bootstrap import migrate, sync_directory

STARTS = 4


async def test_instances_starting_together_sync_the_directory_once(database_url: str) -> None:
    desk = DeskConfig(
        people=[
            {"id": f"e{i}", "name": f"工程师{i}", "roles": ["engineer"], "wecom_userid": f"e{i}"}
            for i in range(20)
        ]
    )
    engines = [db.make_engine(database_url) for _ in range(STARTS)]
    try:
        await migrate(engines[0])
        now = datetime.now(UTC)
        results = await asyncio.gather(
            *(sync_directory(e, desk, now) for e in engines), return_exceptions=True
        )
        assert [r for r in results if r is not None] == []
        async with engines[0].connect() as conn:
            people = (await conn.execute(select(func.count()).select_from(db.people))).scalar()
            links = (await conn.execute(select(func.count()).select_from(db.identities))).scalar()
        assert (people, links) == (21, 20)  # the 20 engineers and the API's own person
    finally:
        for e in engines:
            await e.dispose()
