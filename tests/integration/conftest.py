"""Fixtures for every integration test: each backend in turn (PostgreSQL when configured, and
SQLite always)."""

from __future__ import annotations

import os

import pytest

_PG = os.environ.get("CHATDESK_TEST_DATABASE_URL", "")


@pytest.fixture(
    params=["database_url", "sqlite_url"] if _PG else ["database_url"],
    ids=["postgresql", "sqlite"] if _PG else ["sqlite"],
)
def each_backend_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(request.param)
