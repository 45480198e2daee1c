"""A `chatdesk serve` killed with SIGKILL (its whole process group) in the middle of its work:
what it acknowledged is handled exactly once after the restart, and a message the platform
accepted just before the kill (like the others then in flight) is sent again at most once per
crash. Its worker process killed alone is started again by the server, which never stops
acknowledging meanwhile.

One instance, so these run on the SQLite default as well as on PostgreSQL + Redis.
"""

from __future__ import annotations

import asyncio
import os
import signal

from core import db
from tests.e2e.helpers import eventually
from tests.fakes.wecom_api import Call
from tests.faults.desk import WARM_UP, Desk, Reports

LOAD = 60


async def test_sigkill_under_load_every_acknowledged_message_is_handled_exactly_once(
    desk: Desk,
) -> None:
    """First the worker process alone is killed while reports arrive (the server goes on
    acknowledging and starts it again), then the whole server (restarted by the test)."""
    a = desk.instance("a")
    await desk.start(a)
    await desk.warm_up(a)
    workers = await eventually(a.children, timeout=30)
    first = Reports(desk, [f"kehu{i}" for i in range(LOAD)], 9000)
    second = Reports(desk, [f"kehu{i}" for i in range(LOAD, 2 * LOAD)], 9000 + LOAD)

    async def halfway(reports: Reports) -> None:
        await eventually(lambda: len(reports.acked) >= LOAD // 2, timeout=30, every=0.01)

    async def kill_the_worker_halfway() -> None:
        await halfway(first)
        for pid in workers:
            os.kill(pid, signal.SIGKILL)

    await asyncio.gather(first.send(a), kill_the_worker_halfway())
    assert len(first.acked) == LOAD  # the server itself never stopped answering
    restarted = await eventually(lambda: set(a.children()) - set(workers), timeout=30)
    assert restarted and a.alive()

    async def kill_the_server_halfway() -> None:
        await halfway(second)
        await a.kill()  # callbacks in flight get no answer, or a broken one

    await asyncio.gather(second.send(a), kill_the_server_halfway())
    acked_before = first.acked | second.acked
    assert len(acked_before) >= LOAD + LOAD // 2
    await a.start()
    await second.send(a)  # the platform retries every callback it saw no 200 for
    assert len(second.acked) == LOAD
    await desk.settled()
    users = first.users + second.users
    assert await desk.statuses(db.inbox) == {"done": 2 * LOAD + 1}
    assert await desk.count(db.tickets) == 2 * LOAD  # each report handled once
    await desk.replies_after_crashes([*users, WARM_UP], crashes=2)
    assert all("#" in desk.texts(u)[0] for u in acked_before)


async def test_relay_killed_after_the_platform_accepted_resends_each_reply_at_most_once(
    desk: Desk,
) -> None:
    a = desk.instance("a")
    await desk.start(a)
    # the 5th reply the platform accepts kills the sender before it is answered; the 15th is
    # answered and the kill follows at once (before or after the relay marks the row sent)
    crash_at = {5: "before the answer", 15: "after the answer"}
    accepted = 0

    async def kill_after_accepting(call: Call) -> None:
        """The platform has the message; the relay dies before it hears so, or just after."""
        nonlocal accepted
        if call.path == "message/send":
            accepted += 1
            if crash_at.get(accepted) == "before the answer":
                a.kill_now()
            elif crash_at.get(accepted) == "after the answer":
                asyncio.get_running_loop().call_later(0.001, a.kill_now)

    desk.wecom.on_accept = kill_after_accepting
    reports = Reports(desk, [f"kehu{i}" for i in range(30)], 8000)
    await reports.send(a)
    crashes = 0

    def crashed_or_done() -> bool:
        everyone = len(reports.acked) == len(reports.users) == len(desk.texts_per_user())
        return not a.alive() or everyone

    for _ in range(len(crash_at) + 1):  # each crash is followed by a restart
        await eventually(crashed_or_done, timeout=30, every=0.1)
        if a.alive():
            break
        crashes += 1
        await a.start()
        await reports.send(a)  # what the kill left unacknowledged is retried by the platform
    assert crashes == len(crash_at), desk.logs()
    await desk.settled()
    await desk.replies_after_crashes(reports.users, crashes)
    assert await desk.count(db.tickets) == len(reports.users)
    assert await desk.statuses(db.inbox) == {"done": len(reports.users)}
