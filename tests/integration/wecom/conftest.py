from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.fakes.wecom_api import FakeWecom, start_fake_wecom


@pytest.fixture
async def fake() -> AsyncIterator[FakeWecom]:
    async with start_fake_wecom() as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s
