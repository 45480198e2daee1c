"""REST for the knowledge base: articles (CRUD, publish), search, and the reports.

Routes are added to the API by `webhooks.api` (same bearer tokens, errors and OpenAPI).
"""

from __future__ import annotations

import secrets
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from bot.kb_chat import article_url
from core.errors import FieldError, NotFound, ValidationFailed
from core.inputs import ascii_int
from core.kb.model import (
    ARTICLE_ID,
    MAX_BODY,
    MAX_PRODUCT,
    MAX_TAG,
    MAX_TAGS,
    MAX_TITLE,
    Article,
    ArticleStatus,
    EventKind,
)
from core.kb.reports import knowledge_report
from core.reports.summary import PERIODS, period_start
from core.uow import SqlUnitOfWork
from webhooks import cursor
from webhooks.api import Route, _body, _json
from webhooks.keys import SERVICES
from webhooks.paging import read_page

Tag = Field(min_length=1, max_length=MAX_TAG)


class ArticleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, pattern=ARTICLE_ID.pattern, description="default: new id")
    title: str = Field(min_length=1, max_length=MAX_TITLE)
    body: str = Field(min_length=1, max_length=MAX_BODY)
    tags: list[str] = Field(default_factory=list, max_length=MAX_TAGS)
    product: str = Field(default="", max_length=MAX_PRODUCT)
    status: Literal["draft", "published"] = "published"


class ArticlePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=MAX_TITLE)
    body: str | None = Field(default=None, min_length=1, max_length=MAX_BODY)
    tags: list[str] | None = Field(default=None, max_length=MAX_TAGS)
    product: str | None = Field(default=None, max_length=MAX_PRODUCT)
    status: Literal["draft", "published"] | None = None


class ArticleOut(BaseModel):
    id: str
    title: str
    body: str
    tags: list[str]
    product: str
    status: str
    author: str
    views: int
    helpful: int
    unhelpful: int
    source_ticket: int | None
    url: str
    created_at: str | None
    updated_at: str | None


class ArticleList(BaseModel):
    items: list[ArticleOut]
    next_cursor: str | None = Field(description="pass as cursor for the next page; null: last")
    total: int | None = Field(default=None, description="only with count=true")


class SearchHit(BaseModel):
    id: str
    title: str
    score: float
    url: str


def _out(request: web.Request, a: Article) -> dict[str, Any]:
    base = request.app[SERVICES].settings.http.public_base_url
    return {
        "id": a.id,
        "title": a.title,
        "body": a.body,
        "tags": list(a.tags),
        "product": a.product,
        "status": a.status.value,
        "author": a.author,
        "views": a.views,
        "helpful": a.helpful,
        "unhelpful": a.unhelpful,
        "source_ticket": a.source_ticket_id,
        "url": article_url(base, a.id),
        "created_at": a.created_at.isoformat() if a.created_at else None,
        "updated_at": a.updated_at.isoformat() if a.updated_at else None,
    }


def _tags(tags: list[str]) -> tuple[str, ...]:
    for tag in tags:
        if not tag.strip() or len(tag) > MAX_TAG:
            raise ValidationFailed([FieldError("tags", f"每个标签 1-{MAX_TAG} 字")])
    return tuple(dict.fromkeys(t.strip() for t in tags))


def _article_id(request: web.Request) -> str:
    raw = request.match_info["article_id"]
    if not ARTICLE_ID.match(raw):
        raise NotFound(f"没有找到文章 {raw[:64]}")
    return raw


def _int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    value = ascii_int(request.query.get(name, str(default)), lo=low, hi=high)
    if value is None:
        raise ValidationFailed([FieldError(name, f"应为 {low} 到 {high} 的整数")])
    return value


async def list_articles(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    raw = request.query.get("status", "")
    if raw and raw not in ArticleStatus._value2member_map_:
        raise ValidationFailed([FieldError("status", "应为 draft 或 published")])
    status = ArticleStatus(raw) if raw else None
    offset = _int(request, "offset", 0, 0, 10**9)
    errors: list[FieldError] = []
    page = read_page(request.query, errors, kind="k", decode=cursor.decode_text)
    if errors or page.limit is None:
        raise ValidationFailed(errors)
    after = page.after
    async with SqlUnitOfWork(services.engine) as uow:
        found = await uow.kb.list(status=status, limit=page.limit + 1, offset=offset, after=after)
        total = await uow.kb.count(status=status) if page.count else None
    items, next_cursor = page.cut(found, lambda a: a.id)
    body: dict[str, Any] = {"items": [_out(request, a) for a in items], "next_cursor": next_cursor}
    if total is not None:
        body["total"] = total
    return _json(body)


async def create_article(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    body: ArticleIn = await _body(request, ArticleIn)
    article = Article(
        id=body.id or f"KB-{secrets.token_hex(4).upper()}",
        title=body.title.strip(),
        body=body.body.strip(),
        tags=_tags(body.tags),
        product=body.product.strip(),
        status=ArticleStatus(body.status),
        author="api",
    )
    async with SqlUnitOfWork(services.engine) as uow:
        if await uow.kb.get(article.id) is not None:
            return _json(
                {"errors": [{"field": "id", "message": f"文章 {article.id} 已存在"}]}, status=409
            )
        await uow.kb.upsert(article, at=services.clock.now())
        stored = await uow.kb.get(article.id)
        await uow.commit()
    assert stored is not None
    return _json(_out(request, stored), status=201)


async def get_article(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    article_id = _article_id(request)
    async with SqlUnitOfWork(services.engine) as uow:
        article = await uow.kb.get(article_id)
    if article is None:
        raise NotFound(f"没有找到文章 {article_id}")
    return _json(_out(request, article))


async def update_article(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    article_id = _article_id(request)
    body: ArticlePatch = await _body(request, ArticlePatch)
    changes: dict[str, Any] = {
        k: v.strip() for k, v in body.model_dump(include={"title", "body", "product"}).items() if v
    }
    if body.product == "":
        changes["product"] = ""
    if body.tags is not None:
        changes["tags"] = _tags(body.tags)
    if body.status is not None:
        changes["status"] = ArticleStatus(body.status)
    async with SqlUnitOfWork(services.engine) as uow:
        article = await uow.kb.get(article_id)
        if article is None:
            raise NotFound(f"没有找到文章 {article_id}")
        await uow.kb.upsert(article.with_changes(**changes), at=services.clock.now())
        stored = await uow.kb.get(article_id)
        await uow.commit()
    assert stored is not None
    return _json(_out(request, stored))


async def delete_article(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    article_id = _article_id(request)
    async with SqlUnitOfWork(services.engine) as uow:
        if not await uow.kb.delete(article_id):
            raise NotFound(f"没有找到文章 {article_id}")
        await uow.commit()
    return web.Response(status=204)


async def search_articles(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    query = request.query.get("q", "").strip()
    if not query or len(query) > 200:
        raise ValidationFailed([FieldError("q", "请提供 1 到 200 字的查询")])
    limit = _int(request, "limit", 5, 1, 50)
    base = services.settings.http.public_base_url
    hits = None
    if services.worker_process is not None:  # its index, not one more here (search_link.py)
        hits = await services.worker_process.search(query, limit)
    async with SqlUnitOfWork(services.engine) as uow:
        if hits is None:
            hits = await services.inbox_worker.kb.search.search(uow.conn, query, limit=limit)
        await uow.kb.record(
            EventKind.SEARCH, at=services.clock.now(), query=query, channel="api", hits=len(hits)
        )
        await uow.commit()
    rows = [
        {"id": h.id, "title": h.title, "score": h.score, "url": article_url(base, h.id)}
        for h in hits
    ]
    return _json({"items": rows})


class SearchResult(BaseModel):
    items: list[SearchHit]


class KbReport(BaseModel):
    period: str
    start: str
    end: str
    suggested: int
    deflected: int
    escalated: int
    searches: int
    unanswered: int
    helpful: int
    unhelpful: int
    top_viewed: list[dict[str, Any]]
    gaps: list[dict[str, Any]]


async def report(request: web.Request) -> web.Response:
    """Deflections, most viewed articles and knowledge gaps for today | week | month."""
    services = request.app[SERVICES]
    period = request.query.get("period", "week")
    if period not in PERIODS:
        raise ValidationFailed([FieldError("period", "应为 today、week 或 month")])
    top = _int(request, "top", 10, 1, 50)
    now = services.clock.now()
    start = period_start(period, now, services.desk.timezone)
    async with services.engine.connect() as conn:
        figures = await knowledge_report(conn, start, now, top=top)
    return _json({"period": period, "start": start.isoformat(), "end": now.isoformat(), **figures})


_AID = (("article_id", "path", "string"),)


def kb_routes() -> tuple[Route, ...]:
    return (
        Route(
            "GET",
            "/kb/articles",
            list_articles,
            "Knowledge articles by id: pass next_cursor as cursor for the next page; "
            "count=true adds total",
            None,
            ArticleList,
            params=(
                ("status", "query", "string"),
                ("limit", "query", "integer"),
                ("cursor", "query", "string"),
                ("count", "query", "boolean"),
                ("offset", "query", "integer"),
            ),
        ),
        Route("POST", "/kb/articles", create_article, "Add an article", ArticleIn, ArticleOut, 201),
        Route(
            "GET",
            "/kb/articles/{article_id}",
            get_article,
            "One article",
            None,
            ArticleOut,
            params=_AID,
        ),
        Route(
            "PATCH",
            "/kb/articles/{article_id}",
            update_article,
            "Edit or publish an article",
            ArticlePatch,
            ArticleOut,
            params=_AID,
        ),
        Route(
            "DELETE",
            "/kb/articles/{article_id}",
            delete_article,
            "Delete an article",
            status=204,
            params=_AID,
        ),
        Route(
            "GET",
            "/kb/search",
            search_articles,
            "Search published articles (empty when nothing is relevant)",
            None,
            SearchResult,
            params=(("q", "query", "string"), ("limit", "query", "integer")),
        ),
        Route(
            "GET",
            "/kb/report",
            report,
            "Deflections, most viewed articles, knowledge gaps (period=today|week|month)",
            None,
            KbReport,
            params=(("period", "query", "string"), ("top", "query", "integer")),
        ),
    )
