"""Articles and knowledge events on SQLAlchemy Core (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core import db
from core.kb.model import Article, ArticleStatus, EventKind

A = db.kb_articles
E = db.kb_events


def _article(row: Any) -> Article:
    m = row._mapping
    return Article(
        id=m["id"],
        title=m["title"],
        body=m["body"],
        tags=tuple(m["tags"] or ()),
        product=m["product"] or "",
        status=ArticleStatus(m["status"]),
        author=m["author"] or "",
        views=int(m["views"] or 0),
        helpful=int(m["helpful"] or 0),
        unhelpful=int(m["unhelpful"] or 0),
        source_ticket_id=m["source_ticket_id"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


class SqlKbRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, article_id: str) -> Article | None:
        row = (await self._conn.execute(select(A).where(A.c.id == article_id))).first()
        return _article(row) if row else None

    async def list(
        self,
        *,
        status: ArticleStatus | None = None,
        limit: int = 1000,
        offset: int = 0,
        after: str | None = None,
    ) -> list[Article]:
        """By id; after the id ``after`` when given (keyset: nothing is skipped over)."""
        stmt = select(A).order_by(A.c.id).limit(limit).offset(offset)
        if status is not None:
            stmt = stmt.where(A.c.status == status.value)
        if after is not None:
            stmt = stmt.where(A.c.id > after)
        return [_article(r) for r in await self._conn.execute(stmt)]

    async def count(self, *, status: ArticleStatus | None = None) -> int:
        stmt = select(func.count()).select_from(A)
        if status is not None:
            stmt = stmt.where(A.c.status == status.value)
        return int((await self._conn.execute(stmt)).scalar() or 0)

    async def published(self) -> list[Article]:
        stmt = select(A).where(A.c.status == ArticleStatus.PUBLISHED.value).order_by(A.c.id)
        return [_article(r) for r in await self._conn.execute(stmt)]

    async def stamp(self) -> tuple[int, str]:
        """Changes whenever the searchable set changes (count and newest change)."""
        stmt = select(func.count(), func.max(A.c.updated_at)).where(
            A.c.status == ArticleStatus.PUBLISHED.value
        )
        count, newest = (await self._conn.execute(stmt)).one()
        return int(count or 0), str(newest or "")

    async def upsert(self, article: Article, *, at: datetime) -> bool:
        """Insert or update the article's content; counters are kept. True when new."""
        values = {
            "title": article.title,
            "body": article.body,
            "tags": list(article.tags),
            "product": article.product,
            "status": article.status.value,
            "updated_at": at,
        }
        changed = await self._conn.execute(update(A).where(A.c.id == article.id).values(**values))
        if changed.rowcount:
            return False
        await self._conn.execute(
            insert(A).values(
                id=article.id,
                author=article.author,
                views=0,
                helpful=0,
                unhelpful=0,
                source_ticket_id=article.source_ticket_id,
                created_at=at,
                **values,
            )
        )
        return True

    async def delete(self, article_id: str) -> bool:
        result = await self._conn.execute(A.delete().where(A.c.id == article_id))
        return bool(result.rowcount)

    async def bump(self, article_id: str, counter: str) -> None:
        column = A.c[counter]
        await self._conn.execute(
            update(A).where(A.c.id == article_id).values({counter: column + 1})
        )

    async def record(
        self,
        kind: EventKind,
        *,
        at: datetime,
        article_id: str | None = None,
        query: str = "",
        person_id: str = "",
        channel: str = "",
        hits: int = 0,
    ) -> None:
        await self._conn.execute(
            insert(E).values(
                kind=kind.value,
                article_id=article_id,
                query=query[:500],
                person_id=person_id,
                channel=channel,
                hits=hits,
                at=at,
            )
        )
