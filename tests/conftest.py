"""Shared fixtures. PostgreSQL and Redis are used when CHATDESK_TEST_DATABASE_URL and
CHATDESK_TEST_REDIS_URL are set; otherwise SQLite files and the in-process cache."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from core import db
from webhooks.bootstrap import migrate, sync_directory
from webhooks.settings import Settings, load_settings

PG_URL = os.environ.get("CHATDESK_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("CHATDESK_TEST_REDIS_URL", "")
REPO_ROOT = Path(__file__).resolve().parent.parent
API_TOKEN = "test-token-0123456789-abcdefghijklmn"


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [
        f"database: {'PostgreSQL ' + PG_URL if PG_URL else 'SQLite (CHATDESK_TEST_DATABASE_URL unset)'}",
        f"cache: {'Redis ' + REDIS_URL if REDIS_URL else 'in-process (CHATDESK_TEST_REDIS_URL unset)'}",
    ]


_pg_migrated = False


async def _reset_postgres(url: str) -> None:
    """Migrate once per session, then empty every table before each test."""
    global _pg_migrated
    engine = db.make_engine(url)
    try:
        if not _pg_migrated:
            await migrate(engine)
            _pg_migrated = True
        names = ", ".join(t.name for t in db.metadata.sorted_tables)
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            await conn.execute(db.counters.insert(), [{"name": n, "value": 0} for n in db.COUNTERS])
            await conn.execute(text(f"ALTER SEQUENCE {db.CUSTOMER_SEQUENCE} RESTART WITH 1"))
    finally:
        await engine.dispose()


@pytest.fixture
async def database_url(tmp_path: Path) -> str:
    """A clean database for this test: PostgreSQL (emptied) or a new SQLite file."""
    if PG_URL:
        await _reset_postgres(PG_URL)
        return PG_URL
    return f"sqlite+aiosqlite:///{tmp_path / 'chatdesk.db'}"


@pytest.fixture
async def synced_engine(database_url: str) -> AsyncIterator[Callable[..., Any]]:
    """``await synced_engine(desk, at)``: the test database, migrated, staff and parts synced
    from ``desk`` as ``serve`` does at start; disposed after the test."""
    engines = []

    async def factory(desk: Any, at: Any) -> Any:
        engine = db.make_engine(database_url)
        await migrate(engine)
        await sync_directory(engine, desk, at)
        engines.append(engine)
        return engine

    yield factory
    for engine in engines:
        await engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'sqlite.db'}"


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """The test Redis, flushed; empty when unset (the in-process cache is used)."""
    if REDIS_URL:
        from redis import asyncio as aioredis

        client = aioredis.from_url(REDIS_URL)
        await client.flushdb()
        await client.aclose()
    yield REDIS_URL


@pytest.fixture(autouse=True)
def demo_files_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo's own SQLite file and photos and the photos fetched from chats (defaults
    ``var/demo.db``, ``var/demo-media`` and ``var/media``, relative to the working directory,
    i.e. the checkout) go to this test's temporary
    directory instead, in this process and in subprocesses that keep the environment. Values
    passed to ``load_settings`` still win; a YAML file's do not (the environment comes first),
    so subprocesses given a YAML with these keys must drop the CHATDESK_ variables, as they do."""
    monkeypatch.setenv(
        "CHATDESK_SANDBOX_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    )
    monkeypatch.setenv("CHATDESK_SANDBOX_MEDIA_DIR", str(tmp_path / "demo-media"))
    monkeypatch.setenv("CHATDESK_MEDIA_DIR", str(tmp_path / "media"))


@pytest.fixture
def make_settings(database_url: str, redis_url: str, tmp_path: Path) -> Callable[..., Settings]:
    def factory(yaml_text: str = "", **overrides: Any) -> Settings:
        path = None
        if yaml_text:
            path = tmp_path / "chatdesk.yaml"
            path.write_text(yaml_text, encoding="utf-8")
        overrides.setdefault("database_url", database_url)
        overrides.setdefault("redis_url", redis_url)
        overrides.setdefault("api_tokens", [API_TOKEN])
        # Without a platform the app would be the demo (its own database): tests that want the
        # sandbox start it on purpose (tests/e2e/sandbox_harness.py).
        if "sandbox:" not in yaml_text:
            overrides.setdefault("sandbox", "off")
        return load_settings(path, **overrides)

    return factory


@pytest.fixture
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """Dump the pending asyncio tasks if a teardown hangs (seen rarely under heavy load)."""
    from tests.hang_watch import start

    timer = start()
    yield
    timer.cancel()
