"""Knowledge articles: what they hold and how outside input is checked before it is stored."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.kb.index import Doc

ARTICLE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
MAX_TITLE = 300
MAX_BODY = 20_000
MAX_TAGS = 20
MAX_TAG = 40
MAX_PRODUCT = 100


@dataclass(frozen=True, kw_only=True)
class Hit:
    """One search result (core/kb/index.py), here so that who only passes hits on (serve's
    REST search answered by its worker) needs not import the index and the analyzer."""

    id: str
    title: str
    score: float


class ArticleStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class EventKind(StrEnum):
    SEARCH = "search"  # a search (知识, /kb, REST); hits = how many were shown
    SUGGEST = "suggest"  # articles offered at intake before a ticket
    DEFLECTED = "deflected"  # 已解决: the customer needed no ticket
    ESCALATED = "escalated"  # 仍需报修: the intake went on
    VIEW = "view"  # the article page was opened
    HELPFUL = "helpful"
    UNHELPFUL = "unhelpful"


class InvalidArticle(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, kw_only=True)
class Article:
    id: str
    title: str
    body: str
    tags: tuple[str, ...] = ()
    product: str = ""
    status: ArticleStatus = ArticleStatus.PUBLISHED
    author: str = ""
    views: int = 0
    helpful: int = 0
    unhelpful: int = 0
    source_ticket_id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def doc(self) -> Doc:
        from core.kb.index import Doc  # the analyzer: only where searches run

        return Doc(
            id=self.id, title=self.title, body=self.body, tags=self.tags, product=self.product
        )

    def with_changes(self, **changes: Any) -> Article:
        return replace(self, **changes)

    @property
    def summary(self) -> str:
        """The first lines of the body, for cards."""
        lines = [ln.strip() for ln in self.body.splitlines() if ln.strip()]
        text = " ".join(lines[:2])
        return text if len(text) <= 90 else text[:88] + "…"


def clean_article_input(data: Any, *, id_required: bool = True) -> dict[str, Any]:
    """Check one article's fields from outside (JSONL line, REST body); raise InvalidArticle."""
    if not isinstance(data, dict):
        raise InvalidArticle("$", "应为 JSON 对象 / must be a JSON object")
    out: dict[str, Any] = {}
    if id_required or "id" in data:
        aid = data.get("id")
        if not isinstance(aid, str) or not ARTICLE_ID.match(aid):
            raise InvalidArticle("id", "字母数字开头，最多 64 个字母、数字、_ . - / 1-64 chars")
        out["id"] = aid
    for name, limit in (("title", MAX_TITLE), ("body", MAX_BODY)):
        value = data.get(name)
        if not isinstance(value, str) or not value.strip():
            raise InvalidArticle(name, "必填的文本 / required text")
        if len(value) > limit:
            raise InvalidArticle(name, f"最多 {limit} 字 / at most {limit} characters")
        out[name] = value.strip()
    tags = data.get("tags", [])
    if not isinstance(tags, list) or len(tags) > MAX_TAGS:
        raise InvalidArticle("tags", f"应为最多 {MAX_TAGS} 个文本的列表 / a list of strings")
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip() or len(tag) > MAX_TAG:
            raise InvalidArticle("tags", f"每个标签 1-{MAX_TAG} 字 / 1-{MAX_TAG} chars each")
    out["tags"] = tuple(dict.fromkeys(t.strip() for t in tags))
    product = data.get("product", "")
    if not isinstance(product, str) or len(product) > MAX_PRODUCT:
        raise InvalidArticle("product", f"最多 {MAX_PRODUCT} 字的文本 / text")
    out["product"] = product.strip()
    unknown = set(data) - {"id", "title", "body", "tags", "product", "status"}
    if unknown:
        raise InvalidArticle(sorted(unknown)[0], "未知字段 / unknown field")
    if "status" in data:
        try:
            out["status"] = ArticleStatus(data["status"])
        except ValueError:
            raise InvalidArticle("status", "draft 或 published") from None
    return out
