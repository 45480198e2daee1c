"""PostgreSQL out of one instance's reach (a loopback proxy between them is cut): its callbacks
get a non-2xx answer and leave nothing behind; the platform's retries, on the other instance
while the outage lasts and on either once it is over, make each report one ticket and one reply.

Collected only when CHATDESK_TEST_DATABASE_URL and CHATDESK_TEST_REDIS_URL are set.
"""

from __future__ import annotations

import asyncio
import os

from core import db
from tests.e2e.helpers import eventually
from tests.faults.desk import Desk, Reports

USERS = 12

if os.environ.get("CHATDESK_TEST_DATABASE_URL") and os.environ.get("CHATDESK_TEST_REDIS_URL"):

    async def test_database_unreachable_refuses_callbacks_and_the_retries_make_each_ticket_once(
        desk: Desk,
    ) -> None:
        async with desk.proxy(desk.database_url) as proxy:
            a = desk.instance("a")
            b = desk.instance("b", database_url=proxy.url(desk.database_url))
            await desk.start(a, b)
            refused = Reports(desk, [f"kehu{i}" for i in range(USERS // 2)], 5000)
            swallowed = Reports(desk, [f"kehu{i}" for i in range(USERS // 2, USERS)], 5000 + USERS)

            await proxy.cut()  # the database server is down, as b sees it
            await refused.send(b)
            await proxy.cut(blackhole=True)  # the network swallows b's packets
            await swallowed.send(b)
            assert refused.acked == swallowed.acked == set()
            assert [s for s in desk.sender.statuses if 200 <= s < 300] == []
            assert (await desk.readyz(b))[0] == 503
            # nothing half-done: no row, no ticket, no reply for any of them
            assert await desk.count(db.inbox) == await desk.count(db.tickets) == 0
            assert await desk.count(db.outbox) == 0 and desk.wecom.sent == []

            # WeCom retries; half of the retries reach the healthy instance meanwhile
            await refused.send(a)
            assert len(refused.acked) == USERS // 2
            await eventually(lambda: len(desk.texts_per_user()) == USERS // 2, timeout=30)

            await proxy.restore()
            for reports in (refused, swallowed):
                reports.acked.clear()  # and every report is retried once more on b
            for _ in range(20):  # b's pool finds its connections dead and opens new ones
                await swallowed.send(b)
                await refused.send(b)
                if len(refused.acked) + len(swallowed.acked) == USERS:
                    break
                await asyncio.sleep(0.5)
            assert len(refused.acked) + len(swallowed.acked) == USERS, desk.logs()
            await desk.settled()
        users = refused.users + swallowed.users
        assert await desk.count(db.tickets) == USERS
        assert desk.texts_per_user() == {u: 1 for u in users}, desk.texts_per_user()
        assert await desk.statuses(db.inbox) == {"done": USERS}
