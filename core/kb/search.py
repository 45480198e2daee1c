"""Knowledge search over the database: an in-memory index, rebuilt when articles change.

The index is built from the published articles (sorted by id) and the `kb` config, so the same
articles give the same ranking on SQLite and PostgreSQL and in every instance. Each search
first compares a cheap stamp (count and newest change of the published articles); when it
differs the index is rebuilt in a worker thread, once, while other searches wait for it.

The index, the analyzer and their libraries (numpy, jieba and its dictionary) are imported and
loaded at the first search of a process, not before: a process that never searches (the web
process of `chatdesk serve`, until someone uses the REST search) never carries them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection

from core.kb.model import Article
from core.kb.repository import SqlKbRepository
from core.settings import DeskConfig

if TYPE_CHECKING:
    from core.kb.index import Hit, KbIndex, Vectors

MAX_QUERY = 200  # characters of a query that are looked at


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

        self._vectors = self._vectors or Vectors()
        return build_index(
            [a.doc() for a in articles],
            self._config.kb,
            part_names=[p.name for p in self._config.parts],
            asset_models=[a.model for a in self._config.assets if a.model],
            vectors=self._vectors,
        )

    async def index(self, conn: AsyncConnection) -> KbIndex:
        repo = SqlKbRepository(conn)
        stamp = await repo.stamp()
        if self._index is not None and stamp == self._stamp:
            return self._index
        async with self._lock:
            if self._index is None or stamp != self._stamp:
                articles = await repo.published()
                if articles:
                    self._index = await asyncio.to_thread(self._build, articles)
                else:
                    from core.kb.index import KbIndex

                    self._index = KbIndex.empty()
                self._articles = {a.id: a for a in articles}
                self._stamp = stamp
        return self._index

    async def search(self, conn: AsyncConnection, query: str, *, limit: int = 5) -> list[Hit]:
        query = query.strip()[:MAX_QUERY]
        if not query:
            return []
        if self._stamp is not None and self._stamp[0] == 0:
            if (await SqlKbRepository(conn).stamp())[0] == 0:
                return []  # no articles: no need to load the dictionary at all
        index = await self.index(conn)
        return index.search(query, limit=max(1, min(limit, 50)))

    async def articles(self, conn: AsyncConnection, query: str, *, limit: int = 3) -> list[Article]:
        """The best published articles for a query, best first (for cards)."""
        hits = await self.search(conn, query, limit=limit)
        return [self._articles[h.id] for h in hits if h.id in self._articles]
