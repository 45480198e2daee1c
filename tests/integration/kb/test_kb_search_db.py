"""Knowledge search over the real database: PostgreSQL when CHATDESK_TEST_DATABASE_URL is set
(and SQLite as well), else SQLite. The same articles must rank the same on both."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core import db
from core.kb.model import Article, ArticleStatus, EventKind
from core.kb.search import KnowledgeSearch
from core.settings import DeskConfig
from core.uow import SqlUnitOfWork
from tests.fakes import kb_data
from webhooks.bootstrap import migrate

PG = os.environ.get("CHATDESK_TEST_DATABASE_URL", "")
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
QUERIES = [q["q"] for q in kb_data.queries()]


@pytest.fixture
async def engine(each_backend_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.make_engine(each_backend_url)
    await migrate(engine)
    async with SqlUnitOfWork(engine) as uow:
        for a in kb_data.articles():
            article = Article(
                id=a["id"],
                title=a["title"],
                body=a["body"],
                tags=tuple(a["tags"]),
                product=a["product"],
            )
            await uow.kb.upsert(article, at=T0)
        await uow.commit()
    yield engine
    await engine.dispose()


async def rankings(engine: AsyncEngine) -> list[list[tuple[str, float]]]:
    search = KnowledgeSearch(DeskConfig())
    async with engine.connect() as conn:
        return [[(h.id, h.score) for h in await search.search(conn, q)] for q in QUERIES]


async def test_search_finds_articles_stored_in_the_database(engine: AsyncEngine) -> None:
    search = KnowledgeSearch(DeskConfig())
    async with engine.connect() as conn:
        hits = await search.search(conn, "空压机排气温度高 AL-21")
        assert hits[0].id == "KB-013"
        assert await search.search(conn, "报销单在哪里填") == []
        articles = await search.articles(conn, "打印机卡纸", limit=3)
        assert articles[0].id == "KB-057" and articles[0].summary


async def _sqlite_and_postgresql_rank_identically(database_url: str, sqlite_url: str) -> None:
    results = []
    for url in (database_url, sqlite_url):
        engine = db.make_engine(url)
        await migrate(engine)
        async with SqlUnitOfWork(engine) as uow:
            for a in kb_data.articles():
                await uow.kb.upsert(
                    Article(id=a["id"], title=a["title"], body=a["body"], tags=tuple(a["tags"])),
                    at=T0,
                )
            await uow.commit()
        results.append(await rankings(engine))
        await engine.dispose()
    assert results[0] == results[1]


if PG:  # collected only when both databases are there (like the Redis cache contract)
    test_sqlite_and_postgresql_rank_identically = _sqlite_and_postgresql_rank_identically


async def test_the_index_follows_changes(engine: AsyncEngine) -> None:
    search = KnowledgeSearch(DeskConfig())
    async with engine.connect() as conn:
        assert await search.search(conn, "贴标机 标签歪斜") == []
    async with SqlUnitOfWork(engine) as uow:
        new = Article(
            id="KB-900", title="贴标机标签歪斜", body="调整导轨和压辊。", tags=("贴标机",)
        )
        assert await uow.kb.upsert(new, at=T0 + timedelta(minutes=1))
        await uow.commit()
    async with engine.connect() as conn:
        assert (await search.search(conn, "贴标机 标签歪斜"))[0].id == "KB-900"
    async with SqlUnitOfWork(engine) as uow:  # back to draft: no longer searchable
        draft = new.with_changes(status=ArticleStatus.DRAFT)
        assert not await uow.kb.upsert(draft, at=T0 + timedelta(minutes=2))
        await uow.commit()
    async with engine.connect() as conn:
        assert await search.search(conn, "贴标机 标签歪斜") == []


async def test_upsert_keeps_counters_and_events_are_stored(engine: AsyncEngine) -> None:
    async with SqlUnitOfWork(engine) as uow:
        await uow.kb.bump("KB-001", "views")
        await uow.kb.bump("KB-001", "helpful")
        await uow.kb.record(EventKind.SEARCH, at=T0, query="食堂", person_id="c1", hits=0)
        article = await uow.kb.get("KB-001")
        assert article is not None
        assert not await uow.kb.upsert(article.with_changes(title="新标题"), at=T0)
        await uow.commit()
    async with SqlUnitOfWork(engine) as uow:
        stored = await uow.kb.get("KB-001")
        assert stored is not None
        assert (stored.title, stored.views, stored.helpful) == ("新标题", 1, 1)
        assert stored.created_at == T0
        assert await uow.kb.count(status=ArticleStatus.PUBLISHED) == 80
        assert await uow.kb.get("nope") is None


async def test_a_warmed_up_index_serves_the_first_search(engine: AsyncEngine) -> None:
    search = KnowledgeSearch(DeskConfig())
    await search.refresh(engine)
    built = search._index
    assert built is not None and built.n == len(kb_data.articles())
    async with engine.connect() as conn:
        assert (await search.search(conn, "空压机排气温度高 AL-21"))[0].id == "KB-013"
        assert await search.index(conn) is built  # nothing changed: not built again
    assert await rankings(engine) == [
        [(h.id, h.score) for h in await _search(search, engine, q)] for q in QUERIES
    ]


async def _search(search: KnowledgeSearch, engine: AsyncEngine, query: str) -> list:
    async with engine.connect() as conn:
        return await search.search(conn, query)
