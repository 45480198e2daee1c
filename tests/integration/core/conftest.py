"""Fixtures for repository-level tests: each backend in turn (PostgreSQL when configured, and
SQLite always), migrated and empty."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core import db
from webhooks.bootstrap import migrate

_PG = os.environ.get("CHATDESK_TEST_DATABASE_URL", "")


@pytest.fixture(
    params=["database_url", "sqlite_url"] if _PG else ["database_url"],
    ids=["postgresql", "sqlite"] if _PG else ["sqlite"],
)
def each_backend_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(request.param)


@pytest.fixture
async def migrated_engine(each_backend_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.make_engine(each_backend_url)
    await migrate(engine)
    yield engine
    await engine.dispose()
