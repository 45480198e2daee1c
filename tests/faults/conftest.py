"""``desk``: real `chatdesk serve` processes (started by the test) over the test database and
cache, with the fake WeCom and DingTalk in this process; every process is killed when the test ends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from core import db
from tests.e2e.platforms import DING_APP_KEY, DING_APP_SECRET
from tests.fakes.dingtalk_api import start_fake_dingtalk
from tests.fakes.wecom_api import start_fake_wecom
from tests.faults.desk import Desk
from tests.faults.harness import Sender
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
            dingtalk = await start_fake_dingtalk(app_key=DING_APP_KEY, app_secret=DING_APP_SECRET)
            made = Desk(tmp_path, database_url, redis_url, engine, wecom, dingtalk, Sender(session))
            try:
                yield made
            finally:
                for instance in made.instances:
                    instance.close()
                await dingtalk.close()
    finally:
        await engine.dispose()
