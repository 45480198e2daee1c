"""Two real `chatdesk serve` processes share one PostgreSQL and one Redis and behave as one
service: a callback retried on either of them is handled once.

Collected only when CHATDESK_TEST_DATABASE_URL and CHATDESK_TEST_REDIS_URL are set: several
instances are a PostgreSQL + Redis layout (the SQLite default is one instance).
"""

from __future__ import annotations

import asyncio
import os

from core import db
from tests.e2e.helpers import eventually
from tests.faults.desk import REPORT, Desk

USERS = 20
RETRIES = 5

if os.environ.get("CHATDESK_TEST_DATABASE_URL") and os.environ.get("CHATDESK_TEST_REDIS_URL"):

    async def test_a_callback_retried_five_times_across_two_instances_is_handled_once(
        desk: Desk,
    ) -> None:
        a, b = desk.instance("a"), desk.instance("b")
        await desk.start(a, b)
        users = [f"kehu{i}" for i in range(USERS)]
        # WeCom retries a callback it did not see answered in time; here every retry of every
        # message arrives at once, alternating between the two instances
        burst = [
            desk.sender.say((a, b)[n % 2], user, REPORT, 7000 + i)
            for i, user in enumerate(users)
            for n in range(RETRIES)
        ]
        statuses = await asyncio.gather(*burst)
        assert set(statuses) == {200}, statuses
        await eventually(lambda: len(desk.texts_per_user()) == USERS, timeout=30)
        # and once more, late, after the first delivery was handled
        late = [desk.sender.say((b, a)[i % 2], u, REPORT, 7000 + i) for i, u in enumerate(users)]
        assert set(await asyncio.gather(*late)) == {200}
        await desk.settled()
        assert await desk.count(db.tickets) == USERS
        assert desk.texts_per_user() == {u: 1 for u in users}, desk.texts_per_user()
        for user in users:
            assert "#" in desk.texts(user)[0], desk.texts(user)
        inbox = await desk.statuses(db.inbox)
        assert inbox == {"done": USERS}, inbox
