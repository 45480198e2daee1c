"""The desk the fault tests run: its config, and what the tests read back from the database."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.send_gate import DEFAULT_CONCURRENCY
from core import db
from core.queue import PENDING, WORKING
from tests.e2e.helpers import eventually
from tests.e2e.platforms import wecom_settings
from tests.fakes.dingtalk_api import FakeDingtalk
from tests.fakes.serve import ServeProcess, base_config, free_port
from tests.fakes.tcp_proxy import TcpProxy
from tests.fakes.wecom_api import FakeWecom
from tests.faults.harness import Sender

STAFF = [
    {"id": "zhang", "name": "张伟", "roles": ["engineer"], "wecom_userid": "zhang"},
    {"id": "boss1", "name": "王经理", "roles": ["manager"], "wecom_userid": "boss1"},
    {"id": "boss2", "name": "李经理", "roles": ["manager"], "wecom_userid": "boss2"},
    {"id": "li", "name": "李工", "roles": ["engineer"], "wecom_userid": "li"},
]
ASSETS = [{"id": "A-1024", "name": "注塑机"}]
REPORT = "报修 A-1024 漏油"
WARM_UP = "warmup"
# fast polling; a row claimed by a process that was killed is taken up again after 5 s
WORKERS = {
    "inbox_poll_s": 0.1, "outbox_poll_s": 0.1, "retry_base_s": 0.2, "retry_cap_s": 2.0,
    "per_person_per_minute": 30, "scan_interval_s": 3600, "inbox_lease_s": 5, "outbox_lease_s": 5,
}  # fmt: skip


def desk_config(
    *, database_url: str, redis_url: str, wecom_base: str, workdir: Path, port: int
) -> dict[str, Any]:
    return {
        **base_config(database_url=database_url, redis_url=redis_url, port=port),
        "media_dir": str(workdir / "media"),
        "workers": WORKERS,
        "wecom": wecom_settings(wecom_base),
        "people": STAFF,
        "assets": ASSETS,
        "assignment": {"auto_dispatch": False},
    }


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``extra`` over ``base``, dictionaries merged key by key."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


@dataclass
class Desk:
    """N instances over one database and one cache, the fake WeCom, and the database to read."""

    workdir: Path
    database_url: str
    redis_url: str
    engine: AsyncEngine
    wecom: FakeWecom
    dingtalk: FakeDingtalk
    sender: Sender
    instances: list[ServeProcess] = field(default_factory=list)

    def instance(self, name: str, **extra: Any) -> ServeProcess:
        port = free_port()
        config = desk_config(
            database_url=self.database_url, redis_url=self.redis_url,
            wecom_base=self.wecom.base_url, workdir=self.workdir, port=port,
        )  # fmt: skip
        made = ServeProcess(name, merge(config, extra), self.workdir)
        self.instances.append(made)
        return made

    async def start(self, *instances: ServeProcess) -> None:
        await asyncio.gather(*(i.start() for i in instances))

    @contextlib.asynccontextmanager
    async def proxy(self, url: str) -> AsyncIterator[TcpProxy]:
        """A TCP proxy in front of the server ``url`` names (PostgreSQL or Redis), for the test
        to cut and restore (instances reach it at ``proxy.url(url)``); closed at the end."""
        target = urlsplit(url)
        default_port = 6379 if target.scheme.startswith("redis") else 5432
        proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or default_port)
        await proxy.start()
        try:
            yield proxy
        finally:
            await proxy.close()

    async def readyz(self, instance: ServeProcess) -> tuple[int, dict[str, Any]]:
        async with self.sender.session.get(f"{instance.url}/readyz") as r:
            return r.status, await r.json()

    def logs(self, tail: int = 3000) -> str:
        """What the instances printed, the last ``tail`` characters of each (0: all of it)."""
        return "\n".join(f"== {i.name}\n{i.log.read_text(errors='replace')[-tail:]}"
                         for i in self.instances if i.log.exists())  # fmt: skip

    async def warm_up(self, instance: ServeProcess) -> None:
        """Wait until ``instance`` answers a chat message (its worker process is up and busy):
        one `帮助` from the user ``warmup``, one reply, no ticket."""
        assert await self.sender.say(instance, WARM_UP, "帮助", 1) == 200
        await eventually(lambda: self.texts(WARM_UP), timeout=30)

    # -- what the platform saw ----------------------------------------------------------------

    def texts(self, user: str) -> list[str]:
        return [
            m["text"]["content"]
            for m in self.wecom.sent
            if m.get("touser") == user and m.get("msgtype") == "text"
        ]

    def texts_per_user(self) -> Counter[str]:
        return Counter(m["touser"] for m in self.wecom.sent if m.get("msgtype") == "text")

    def repeated(self) -> dict[str, list[Any]]:
        """For a failure message: every call that sent a user more than one text."""
        many = {u for u, n in self.texts_per_user().items() if n > 1}
        calls = [c for c in self.wecom.calls if c.path == "message/send"]
        return {u: [(c.query, c.json) for c in calls if c.json.get("touser") == u] for u in many}

    def ding_texts(self, user: str) -> list[str]:
        return [json.loads(m["msgParam"]).get("content", "") for m in self.dingtalk.messages
                if m["kind"] == "oto" and user in m["userIds"]]  # fmt: skip

    def ding_texts_per_user(self) -> Counter[str]:
        return Counter(
            u for m in self.dingtalk.messages if m["kind"] == "oto" for u in m["userIds"]
        )

    # -- what the database holds --------------------------------------------------------------

    async def scalar(self, stmt: Any) -> Any:
        async with self.engine.connect() as conn:
            return (await conn.execute(stmt)).scalar()

    async def count(self, table: Any) -> int:
        return int(await self.scalar(select(func.count()).select_from(table)))

    async def statuses(self, table: Any) -> Counter[str]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(table.c.status, func.count()).group_by(table.c.status))
            return Counter({r[0]: r[1] for r in rows})

    async def replies_after_crashes(self, users: list[str], crashes: int) -> None:
        """Each of ``users`` got its reply; a reply came twice only when the platform had it
        from a process killed before it could mark the row sent (the row was sent again, so it
        shows two attempts): each reply at most once more per crash, and per crash no more
        repeats than the relay has sends in flight to a platform (bot/send_gate.py)."""
        got = self.texts_per_user()
        assert set(got) >= set(users), set(users) - set(got)
        twice = {u: n for u, n in got.items() if n > 1}
        assert all(n <= 1 + crashes for n in twice.values()), self.repeated()
        assert sum(n - 1 for n in twice.values()) <= crashes * DEFAULT_CONCURRENCY, self.repeated()
        async with self.engine.connect() as conn:
            o = db.outbox.c
            for user in twice:
                tries = select(func.max(o.attempts)).where(o.user_id == user, o.kind == "text")
                assert (await conn.execute(tries)).scalar() >= 2, self.repeated()

    async def offers_per_ticket(self) -> dict[int, list[str]]:
        """Each ticket's offers' statuses, oldest first."""
        out: dict[int, list[str]] = {}
        async with self.engine.connect() as conn:
            o = db.offers.c
            for row in await conn.execute(select(o.ticket_id, o.status).order_by(o.id)):
                out.setdefault(row.ticket_id, []).append(row.status)
        return out

    async def unfinished(self) -> int:
        """Inbox and outbox rows still waiting or being worked on."""
        left = 0
        for table in (db.inbox, db.outbox):
            counts = await self.statuses(table)
            left += counts[PENDING] + counts[WORKING]
        return left

    async def settled(self, timeout: float = 30.0) -> None:
        """Wait (bounded) until every stored callback is handled and every message sent."""

        async def idle() -> bool:
            return await self.unfinished() == 0

        try:
            await eventually(idle, timeout=timeout, every=0.2)
        except AssertionError as exc:
            inbox, outbox = await self.statuses(db.inbox), await self.statuses(db.outbox)
            raise AssertionError(f"{exc}: inbox {inbox}, outbox {outbox}\n{self.logs()}") from None


@dataclass
class Reports:
    """One repair report per user, as WeCom delivers them: each is posted again until an
    instance answers 200 (``acked``), with the same MsgId every time."""

    desk: Desk
    users: list[str]
    first_msg_id: int
    text: str = REPORT
    acked: set[str] = field(default_factory=set)

    async def send(self, instance: ServeProcess, concurrency: int = 20) -> None:
        """Post every report not yet acknowledged, ``concurrency`` at a time."""
        gate = asyncio.Semaphore(concurrency)

        async def post(i: int, user: str) -> None:
            async with gate:
                msg_id = self.first_msg_id + i
                if await self.desk.sender.say(instance, user, self.text, msg_id) == 200:
                    self.acked.add(user)

        await asyncio.gather(*(post(i, u) for i, u in enumerate(self.users) if u not in self.acked))
