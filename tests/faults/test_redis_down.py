"""Redis stopped for 30 s under load: two real `chatdesk serve` processes reach Redis through a
TCP proxy (tests/fakes/tcp_proxy.py) that the test cuts while callbacks keep arriving and
replies keep going out. Every callback is acknowledged, every message is handled once and
answered once, delivery goes on during the outage (locks, the token and the rate counters in
the database), each process logs the switch and the recovery once, and the replies after the
recovery count in Redis again.

Collected only when CHATDESK_TEST_DATABASE_URL and CHATDESK_TEST_REDIS_URL are set: several
instances are a PostgreSQL + Redis layout.
"""

from __future__ import annotations

import asyncio
import os

from redis import asyncio as aioredis

from core import db
from tests.e2e.helpers import eventually
from tests.fakes.serve import ServeProcess
from tests.faults.desk import REPORT, Desk

EVERY_S = 0.1  # one callback every 0.1 s, alternating between the instances
BEFORE, DURING, AFTER = 50, 300, 50  # callbacks before, during (30 s) and after the outage
MESSAGES = BEFORE + DURING + AFTER


def _log_lines(instance: ServeProcess, text: str) -> int:
    return sum(text in line for line in instance.log.read_text(errors="replace").splitlines())


def _recovered(instance: ServeProcess) -> bool:
    return _log_lines(instance, "Redis answers again") >= _log_lines(instance, "Redis unreachable")


if os.environ.get("CHATDESK_TEST_DATABASE_URL") and os.environ.get("CHATDESK_TEST_REDIS_URL"):

    async def test_redis_stopped_for_30_s_under_load_loses_and_repeats_nothing(
        desk: Desk,
    ) -> None:
        async with desk.proxy(desk.redis_url) as proxy:
            a = desk.instance("a", redis_url=proxy.url(desk.redis_url))
            b = desk.instance("b", redis_url=proxy.url(desk.redis_url))
            await desk.start(a, b)
            users = [f"kehu{i}" for i in range(MESSAGES)]
            sends: list[asyncio.Task[int]] = []
            during: dict[str, object] = {}
            for i, user in enumerate(users):
                if i == BEFORE:
                    await proxy.cut()  # Redis is gone: refused, pooled connections dead
                    during["sent_at_cut"] = len(desk.wecom.sent)
                if i == BEFORE + DURING - 10:  # late in the outage
                    during["ready"] = [await desk.readyz(x) for x in (a, b)]
                    during["sent_late"] = len(desk.wecom.sent)
                if i == BEFORE + DURING:
                    await proxy.restore()
                    await eventually(lambda: all(_recovered(x) for x in (a, b)), timeout=30)
                instance = (a, b)[i % 2]
                sends.append(asyncio.create_task(desk.sender.say(instance, user, REPORT, i)))
                await asyncio.sleep(EVERY_S)
            statuses = await asyncio.gather(*sends)
            assert statuses == [200] * MESSAGES  # every callback acknowledged, outage or not
            await desk.settled(timeout=90)

            # delivery went on while Redis was away, and /readyz kept the instances in
            assert during["sent_late"] > during["sent_at_cut"], (during, desk.logs())  # type: ignore[operator]
            for status, body in during["ready"]:  # type: ignore[attr-defined]
                assert status == 200 and "Redis unreachable" in body["cache"], body
            # nothing lost, nothing twice
            assert await desk.count(db.tickets) == MESSAGES
            assert desk.texts_per_user() == {u: 1 for u in users}, desk.texts_per_user()
            assert await desk.statuses(db.inbox) == {"done": MESSAGES}
            # back on Redis: the replies after the recovery counted there
            redis = aioredis.from_url(desk.redis_url)
            try:
                for user in users[-4:]:
                    assert [k async for k in redis.scan_iter(match=f"*outbox:rate:*:{user}:*")]
            finally:
                await redis.aclose()
            # one token fetch before the outage (when a reply went out before the cut; on a busy
            # machine the first may only go during it) and one, single-flight through the
            # database, for both instances during it: never one per process or per message
            assert 1 <= desk.wecom.token_requests <= 2, desk.logs()
            for instance in (a, b):
                went = _log_lines(instance, "Redis unreachable")
                back = _log_lines(instance, "Redis answers again")
                assert 1 <= went <= 2 and back == went, desk.logs()  # one per process, no storm
