"""Knowledge figures for the managers' summary and the REST report.

- suggested / deflected / escalated: suggestion cards shown at intake, and how customers
  answered (已解决 = a deflection: no ticket was needed; 仍需报修);
- searches / unanswered: 知识 and REST searches, and those that found nothing;
- top viewed: article page views in the period;
- gaps: the searches that found nothing, grouped by their words, most asked first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core import db
from core.kb.model import EventKind

E = db.kb_events
A = db.kb_articles


def _n(kind: EventKind, extra: Any = None) -> Any:
    cond = E.c.kind == kind.value if extra is None else and_(E.c.kind == kind.value, extra)
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


async def knowledge_report(
    conn: AsyncConnection, start: datetime, end: datetime, *, top: int = 5
) -> dict[str, Any]:
    window = and_(E.c.at >= start, E.c.at <= end)
    counts = (
        await conn.execute(
            select(
                _n(EventKind.SUGGEST),
                _n(EventKind.DEFLECTED),
                _n(EventKind.ESCALATED),
                _n(EventKind.SEARCH),
                _n(EventKind.SEARCH, E.c.hits == 0),
                _n(EventKind.HELPFUL),
                _n(EventKind.UNHELPFUL),
            ).where(window)
        )
    ).one()
    views = func.count().label("views")
    viewed = await conn.execute(
        select(E.c.article_id, A.c.title, views)
        .join(A, A.c.id == E.c.article_id)
        .where(window, E.c.kind == EventKind.VIEW.value)
        .group_by(E.c.article_id, A.c.title)
        .order_by(views.desc(), E.c.article_id)
        .limit(top)
    )
    asked = func.count().label("asked")
    words = func.lower(func.trim(E.c.query))
    gaps = await conn.execute(
        select(words.label("q"), asked)
        .where(window, E.c.kind == EventKind.SEARCH.value, E.c.hits == 0)
        .group_by(words)
        .order_by(asked.desc(), words)
        .limit(top)
    )
    suggested, deflected, escalated, searches, unanswered, helpful, unhelpful = (
        int(x) for x in counts
    )
    return {
        "suggested": suggested,
        "deflected": deflected,
        "escalated": escalated,
        "searches": searches,
        "unanswered": unanswered,
        "helpful": helpful,
        "unhelpful": unhelpful,
        "top_viewed": [
            {"id": r.article_id, "title": r.title, "views": int(r.views)} for r in viewed
        ],
        "gaps": [{"query": r.q, "count": int(r.asked)} for r in gaps],
    }
