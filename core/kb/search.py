"""Knowledge search over the database: an in-memory index, rebuilt when articles change.

The index is built from the published articles (sorted by id) and the `kb` config, so the same
articles give the same ranking on SQLite and PostgreSQL and in every instance. Each search
first compares a cheap stamp (count and newest change of the published articles); when it
differs the index is rebuilt in a worker thread, once, while other searches wait for it.

A rebuild takes seconds with thousands of articles. A caller inside a writing transaction (a
chat turn, which on SQLite holds the database's one write lock from its start) must not wait
that long: it passes ``build=False`` and gets `IndexOutOfDate`, rolls back, brings the index up
to date with `refresh` (which holds no connection while it builds) and tries again.

The index, the analyzer and their libraries (jieba and its dictionary) are imported and
loaded at the first search of a process, not before: a process that never searches (the web
process of `chatdesk serve`, until someone uses the REST search) never carries them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.kb.model import Article
from core.kb.repository import SqlKbRepository
from core.settings import DeskConfig

if TYPE_CHECKING:
    from core.kb.index import Hit, KbIndex, Vectors

MAX_QUERY = 200  # characters of a query that are looked at


class IndexOutOfDate(Exception):
    """The articles changed since the index was built, and the caller asked not to wait for a
    rebuild; `KnowledgeSearch.refresh` outside the transaction, then try again."""


class KnowledgeSearch:
    def __init__(self, config: DeskConfig) -> None:
        self._config = config
        self._index: KbIndex | None = None
        self._stamp: tuple[int, str] | None = None
        self._articles: dict[str, Article] = {}
        self._lock = asyncio.Lock()
        self._vectors: Vectors | None = None  # analyses kept between rebuilds

    def _build(self, articles: Sequence[Article]) -> KbIndex:
        from core.kb.engine import build_index
        from core.kb.index import Vectors
        from core.kb.tokenizer import release_free_memory

        self._vectors = self._vectors or Vectors()
        index = build_index(
            [a.doc() for a in articles],
            self._config.kb,
            part_names=[p.name for p in self._config.parts],
            asset_models=[a.model for a in self._config.assets if a.model],
            vectors=self._vectors,
        )
        release_free_memory()  # what the analyses and the build's temporaries left in the heap
        return index

    async def index(self, conn: AsyncConnection, *, build: bool = True) -> KbIndex:
        repo = SqlKbRepository(conn)
        stamp = await repo.stamp()
        if self._index is not None and stamp == self._stamp:
            return self._index
        if not build:
            raise IndexOutOfDate
        async with self._lock:
            if self._index is None or stamp != self._stamp:
                await self._install(stamp, await repo.published())
        assert self._index is not None
        return self._index

    async def _install(self, stamp: tuple[int, str], articles: Sequence[Article]) -> None:
        if articles:
            self._index = await asyncio.to_thread(self._build, articles)
        else:
            from core.kb.index import KbIndex

            self._index = KbIndex.empty()
        self._articles = {a.id: a for a in articles}
        self._stamp = stamp

    async def refresh(self, engine: AsyncEngine) -> None:
        """Bring the index up to date with the articles: at start (so that the first question
        after a restart is answered as fast as any) and before a chat turn that found it out of
        date tries again. It holds no connection while it builds; a search that comes meanwhile
        waits for it, and a second refresh finds the work done."""
        async with self._lock:
            async with engine.connect() as conn:
                repo = SqlKbRepository(conn)
                stamp = await repo.stamp()
                if self._index is not None and stamp == self._stamp:
                    return
                articles = await repo.published() if stamp[0] else []
            await self._install(stamp, articles)

    async def search(
        self, conn: AsyncConnection, query: str, *, limit: int = 5, build: bool = True
    ) -> list[Hit]:
        query = query.strip()[:MAX_QUERY]
        if not query:
            return []
        if self._stamp is not None and self._stamp[0] == 0:
            if (await SqlKbRepository(conn).stamp())[0] == 0:
                return []  # no articles: no need to load the dictionary at all
        index = await self.index(conn, build=build)
        return index.search(query, limit=max(1, min(limit, 50)))

    async def articles(
        self, conn: AsyncConnection, query: str, *, limit: int = 3, build: bool = True
    ) -> list[Article]:
        """The best published articles for a query, best first (for cards)."""
        hits = await self.search(conn, query, limit=limit, build=build)
        return [self._articles[h.id] for h in hits if h.id in self._articles]
