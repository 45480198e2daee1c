"""A fake DingTalk server, a session and settings pointing at it."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.dingtalk.settings import DingtalkSettings
from core.cache import MemoryCache, RedisCache
from tests.fakes.dingtalk_api import FakeDingtalk, start_fake_dingtalk

REDIS_URL = os.environ.get("CHATDESK_TEST_REDIS_URL", "")


@pytest.fixture
async def fake() -> AsyncIterator[FakeDingtalk]:
    server = await start_fake_dingtalk(
        app_key="dingfakeappkey",
        app_secret="fake-app-secret",
        known_users={"zhangwei", "stock01"},
        known_conversations={"cidGroup01=="},
        timeout_delay=1.0,
    )
    yield server
    await server.close()


@pytest.fixture
def settings(fake: FakeDingtalk) -> DingtalkSettings:
    return DingtalkSettings(
        app_key=fake.app_key,
        app_secret=fake.app_secret,
        card_callback_secret="fake-card-callback-secret",
        api_base=fake.base_url,
        oapi_base=fake.base_url,
        request_timeout_s=0.3,
    )


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture(params=["memory", "redis"] if REDIS_URL else ["memory"])
async def shared_cache(request: pytest.FixtureRequest) -> AsyncIterator[MemoryCache | RedisCache]:
    if request.param == "memory":
        yield MemoryCache()
        return
    cache = RedisCache(REDIS_URL, prefix=f"chatdesk-test-{uuid.uuid4().hex}:")
    try:
        yield cache
    finally:
        await cache.delete("dingtalk:token:dingfakeappkey")
        await cache.close()
