"""A chat turn that finds the knowledge index out of date (articles were just imported) waits
for the rebuild outside its transaction (bot/turn.py, core/kb/search.py).

On SQLite the turn holds the database's one write lock from its start, and serve's acks take
that lock to store each callback: a rebuild of seconds inside the turn answered a burst of
callbacks 503. The probe below runs inside the real rebuild, in its thread, and looks at what
the worker holds at that moment: no pooled connection checked out, and on SQLite the write lock
free for another process (a plain sqlite3 connection that must get BEGIN IMMEDIATE at once).
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.inbound import ChatMessage, MessageKind
from bot.worker import InboxWorker
from core import db, inbox
from core.clock import FixedClock
from core.kb.model import Article
from core.queue import DONE
from core.settings import DeskConfig
from core.uow import SqlUnitOfWork
from tests.fakes import kb_data
from webhooks.bootstrap import build_bus, migrate

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
NEW = Article(
    id="KB-901",
    title="扫码枪连不上蓝牙底座",
    body="扫码枪与蓝牙底座配对失败时，长按底座复位键五秒，再扫描底座上的配对条码。",
    tags=("扫码枪", "蓝牙"),
    product="扫码枪",
)


@pytest.fixture
async def engine(each_backend_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.make_engine(each_backend_url, inline=True)  # as the worker process runs it
    await migrate(engine)
    async with SqlUnitOfWork(engine) as uow:
        for a in kb_data.articles()[:20]:
            article = Article(id=a["id"], title=a["title"], body=a["body"], tags=tuple(a["tags"]))
            await uow.kb.upsert(article, at=T0)
        await uow.commit()
    yield engine
    await engine.dispose()


async def ask(engine: AsyncEngine, text: str, key: str) -> None:
    item = ChatMessage(
        platform="wecom",
        dedupe_key=key,
        user_id="ext-wang",
        user_name="王先生",
        kind=MessageKind.TEXT,
        text=text,
    )
    row = {
        "platform": "wecom",
        "dedupe_key": key,
        "kind": "message:text",
        "payload": item.model_dump(mode="json"),
    }
    async with engine.begin() as conn:
        await inbox.insert_items(conn, [row], at=T0)


async def test_a_turn_waits_for_a_rebuild_outside_its_transaction(
    engine: AsyncEngine, each_backend_url: str
) -> None:
    url = each_backend_url
    worker = InboxWorker(engine=engine, bus=build_bus(engine, DeskConfig(), FixedClock(T0)))
    search = worker.kb.search
    await search.refresh(engine)
    seen: list[dict[str, Any]] = []
    build = search._build

    def probed_build(articles: Sequence[Article]) -> Any:
        look: dict[str, Any] = {"checked_out": engine.sync_engine.pool.checkedout()}
        if url.startswith("sqlite"):
            other = sqlite3.connect(url.split("///", 1)[1], timeout=0, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
                look["write_lock_free"] = True
            except sqlite3.OperationalError as exc:
                look["write_lock_free"] = str(exc)
            finally:
                other.close()
        seen.append(look)
        return build(articles)

    search._build = probed_build  # type: ignore[method-assign]
    async with SqlUnitOfWork(engine) as uow:  # `chatdesk kb import` adds an article
        await uow.kb.upsert(NEW, at=T0)
        await uow.commit()
    await ask(engine, "知识 扫码枪 蓝牙底座", "msg-1")

    assert await worker.run_once() == 1

    assert len(seen) == 1  # rebuilt once, by the refresh between the two tries
    assert seen[0]["checked_out"] == 0
    if url.startswith("sqlite"):
        assert seen[0]["write_lock_free"] is True
    async with engine.connect() as conn:
        [row] = (await conn.execute(select(db.inbox))).mappings().all()
        [card] = (
            (await conn.execute(select(db.outbox).where(db.outbox.c.kind == "card")))
            .mappings()
            .all()
        )
    assert (row["status"], row["attempts"], row["error"]) == (DONE, 1, "")
    assert card["payload"]["card"]["args"]["articles"][0]["id"] == "KB-901"  # the fresh index

    await ask(engine, "知识 扫码枪", "msg-2")  # nothing changed since: no rebuild
    assert await worker.run_once() == 1
    assert len(seen) == 1
