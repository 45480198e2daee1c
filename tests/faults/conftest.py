"""``desk``: real `chatdesk serve` processes (started by the test) over the test database and
cache, with the fake WeCom in this process; every process is killed when the test ends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from core import db
from tests.fakes.wecom_api import start_fake_wecom
from tests.faults.desk import Desk
from tests.faults.harness import WecomSender
from webhooks.bootstrap import migrate


@pytest.fixture
async def desk(database_url: str, redis_url: str, tmp_path: Path) -> AsyncIterator[Desk]:
    engine = db.make_engine(database_url)
    await migrate(engine)
    try:
        async with (
            start_fake_wecom() as wecom,
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
        ):
            made = Desk(tmp_path, database_url, redis_url, engine, wecom, WecomSender(session))
            try:
                yield made
            finally:
                for instance in made.instances:
                    instance.close()
    finally:
        await engine.dispose()
