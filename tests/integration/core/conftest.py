"""Fixtures for repository-level tests: each backend in turn (tests/integration/conftest.py),
migrated and empty."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core import db
from webhooks.bootstrap import migrate


@pytest.fixture
async def migrated_engine(each_backend_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.make_engine(each_backend_url)
    await migrate(engine)
    yield engine
    await engine.dispose()
