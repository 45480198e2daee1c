"""`chatdesk kb import` and `chatdesk kb search` (CONTRACT §2).

Both apply the migrations first (idempotent), so they work on a fresh database too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.kb.model import Article, InvalidArticle, clean_article_input


def read_jsonl(path: Path) -> tuple[list[Article], list[str]]:
    """Every article of the file, or every problem with its line number (1-based)."""
    articles: list[Article] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [f"{path}: {exc}"]
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            values = clean_article_input(data)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: 不是有效的 JSON / invalid JSON ({exc.msg})")
            continue
        except InvalidArticle as exc:
            problems.append(f"line {number}: {exc.field}: {exc.message}")
            continue
        if values["id"] in seen:
            problems.append(f"line {number}: id: 与第 {seen[values['id']]} 行重复 / duplicate")
            continue
        seen[values["id"]] = number
        articles.append(Article(author="import", **values))
    return articles, problems


async def _with_engine(settings: Any, work: Any) -> Any:
    from core.db import make_engine
    from webhooks.bootstrap import ensure_sqlite_dir, migrate

    ensure_sqlite_dir(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        await migrate(engine)
        return await work(engine)
    finally:
        await engine.dispose()


def cmd_kb_import(args: argparse.Namespace, settings: Any) -> int:
    from core.uow import SqlUnitOfWork

    articles, problems = read_jsonl(Path(args.file))
    if problems:
        print("未导入任何文章 / nothing imported:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1

    async def work(engine: Any) -> tuple[int, int]:
        at = datetime.now(UTC)
        new = 0
        async with SqlUnitOfWork(engine) as uow:
            for article in articles:
                new += await uow.kb.upsert(article, at=at)
            await uow.commit()
        return new, len(articles) - new

    new, updated = asyncio.run(_with_engine(settings, work))
    print(f"imported {len(articles)} articles ({new} new, {updated} updated)")
    return 0


def cmd_kb_search(args: argparse.Namespace, settings: Any) -> int:
    from core.kb.search import KnowledgeSearch

    if args.limit < 1 or args.limit > 50:
        print("--limit 应在 1 到 50 之间 / must be 1..50", file=sys.stderr)
        return 1
    search = KnowledgeSearch(settings.desk())

    async def work(engine: Any) -> list[Any]:
        async with engine.connect() as conn:
            return await search.search(conn, args.query, limit=args.limit)

    hits = asyncio.run(_with_engine(settings, work))
    if args.json:
        rows = [{"id": h.id, "title": h.title, "score": h.score} for h in hits]
        print(json.dumps(rows, ensure_ascii=False))
    elif not hits:
        print("没有找到相关的知识 / nothing relevant")
    else:
        for rank, h in enumerate(hits, start=1):
            print(f"{rank}. {h.id}  {h.title}  ({h.score:.3f})")
    return 0


def add_parsers(sub: Any, common: argparse.ArgumentParser, settings_of: Any) -> None:
    kb = sub.add_parser("kb", help="knowledge base").add_subparsers(
        dest="kb_command", required=True
    )
    imp = kb.add_parser("import", parents=[common], help="upsert articles from a JSONL file")
    imp.add_argument("file", metavar="FILE.jsonl")
    imp.set_defaults(func=lambda a: cmd_kb_import(a, settings_of(a)))
    search = kb.add_parser("search", parents=[common], help="search published articles")
    search.add_argument("query", metavar="QUERY")
    search.add_argument("--limit", type=int, default=5)
    search.add_argument("--json", action="store_true", help='print [{"id","title","score"}]')
    search.set_defaults(func=lambda a: cmd_kb_search(a, settings_of(a)))
