"""Two real `chatdesk serve` processes share one PostgreSQL and one Redis and behave as one
service: a callback retried on either of them is handled once.

Collected only when CHATDESK_TEST_DATABASE_URL and CHATDESK_TEST_REDIS_URL are set: several
instances are a PostgreSQL + Redis layout (the SQLite default is one instance).
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core import db
from core.settings import DeskConfig
from tests.e2e.helpers import eventually
from tests.e2e.platforms import dingtalk_settings
from tests.faults.desk import REPORT, Desk, Reports
from tests.faults.seed import seed_offers, seed_resolved

USERS = 20
RETRIES = 5
RESOLVED = 30
DIGEST_DELAY_S = 25  # the digest falls due this long after the instances are launched
EXPIRIES = 2
OFFERS = 10


def card_keys(desk: Desk) -> Counter[tuple[str, str]]:
    """(recipient, card key) of every card the platform accepted."""
    return Counter(
        (m["touser"], m["template_card"]["task_id"].split("@r")[0])
        for m in desk.wecom.sent
        if m.get("msgtype") == "template_card"
    )


if os.environ.get("CHATDESK_TEST_DATABASE_URL") and os.environ.get("CHATDESK_TEST_REDIS_URL"):

    async def test_any_instance_takes_any_callback_retries_count_once_dialogs_go_on(
        desk: Desk,
    ) -> None:
        ding = {"dingtalk": dingtalk_settings(desk.dingtalk.base_url)}
        a, b = desk.instance("a", **ding), desk.instance("b", **ding)
        await desk.start(a, b)
        users = [f"kehu{i}" for i in range(USERS)]  # half on WeCom, half on DingTalk

        def post(i: int, n: int) -> Awaitable[int]:
            to = (a, b)[n % 2]
            if i % 2:
                return desk.sender.ding(to, users[i], REPORT, f"dmsg{i}")
            return desk.sender.say(to, users[i], REPORT, 7000 + i)

        # a platform retries a callback it did not see answered in time; here every retry of
        # every message arrives at once, alternating between the two instances
        statuses = await asyncio.gather(*(post(i, n) for i in range(USERS) for n in range(RETRIES)))
        assert set(statuses) == {200}, statuses

        def replied() -> Counter[str]:
            return desk.texts_per_user() + desk.ding_texts_per_user()

        await eventually(lambda: len(replied()) == USERS, timeout=30)
        # and once more, late, on the other instance, after the first delivery was handled
        assert set(await asyncio.gather(*(post(i, 1 + i) for i in range(USERS)))) == {200}
        await desk.settled()
        assert await desk.count(db.tickets) == USERS
        assert replied() == {u: 1 for u in users}, replied()
        for i, user in enumerate(users):
            text = (desk.ding_texts(user) if i % 2 else desk.texts(user))[0]
            assert "#" in text, text
        inbox = await desk.statuses(db.inbox)
        assert inbox == {"done": USERS}, inbox
        assert len(desk.dingtalk.tokens) == 1  # one token for both instances

        # a dialog begun on one instance goes on on the other
        await desk.sender.say(a, "talker", "注塑机报警 E31，无法启动", 7100)
        asked = await eventually(lambda: desk.texts("talker"), timeout=30)
        assert "设备编号" in asked[-1]
        await desk.sender.say(b, "talker", "A-1024", 7101)
        opened = await eventually(lambda: [t for t in desk.texts("talker") if "#" in t], timeout=30)
        assert f"#{USERS + 1}" in opened[0], opened
        description = select(db.tickets.c.description).where(db.tickets.c.id == USERS + 1)
        assert await desk.scalar(description) == "注塑机报警 E31，无法启动"
        # SIGTERM: both stop in time and cleanly, having logged no error on the way
        assert await a.stop() == 0 and await b.stop() == 0, desk.logs()
        assert "Traceback" not in desk.logs(tail=0), desk.logs()

    async def test_two_instances_refresh_the_token_scan_and_send_the_digest_once(
        desk: Desk,
    ) -> None:
        now = datetime.now(UTC)
        customers = await seed_resolved(desk.engine, RESOLVED, now - timedelta(days=5))
        # offers made 20 minutes ago, not taken within the 5 minutes allowed
        await seed_offers(desk.engine, OFFERS, now - timedelta(minutes=20), timeout_minutes=5)
        zone = ZoneInfo(DeskConfig().timezone)
        digest_at = (now + timedelta(seconds=DIGEST_DELAY_S)).astimezone(zone)
        extra = {
            "workers": {"scan_interval_s": 1},  # both scan every second
            "reports": {"daily_digest_at": digest_at.strftime("%H:%M:%S")},
            "assignment": {"auto_dispatch": True, "accept_timeout_minutes": 5},
        }
        a, b = desk.instance("a", **extra), desk.instance("b", **extra)
        await desk.start(a, b)
        assert datetime.now(UTC) < digest_at, "the instances started after the digest was due"

        # the token: both relays send; WeCom expires it twice while they do
        for round_ in range(EXPIRIES + 1):
            if round_:
                desk.wecom.expire_token_once()
            to_a = Reports(
                desk, [f"kehu{round_}a{i}" for i in range(5)], 6000 + 100 * round_, "帮助"
            )
            to_b = Reports(
                desk, [f"kehu{round_}b{i}" for i in range(5)], 6050 + 100 * round_, "帮助"
            )
            await asyncio.gather(to_a.send(a), to_b.send(b))
            users = set(to_a.users + to_b.users)
            await eventually(lambda u=users: u <= set(desk.texts_per_user()), timeout=30)
        assert (fetched := desk.wecom.token_requests) == 1 + EXPIRIES, fetched

        # the auto-close scan: every resolved ticket closed once, its customer told once
        def closed_notices() -> Counter[str]:
            return Counter(u for u in customers for t in desk.texts(u) if "自动关闭" in t)

        await eventually(lambda: len(closed_notices()) == RESOLVED, timeout=30)
        # the digest: one card to each manager
        managers = {"boss1", "boss2"}
        digests = lambda: {u for u, k in card_keys(desk) if k.startswith("digest_")}  # noqa: E731
        await eventually(lambda: digests() == managers, timeout=DIGEST_DELAY_S + 30)
        await asyncio.sleep(2)  # both instances' digest jobs and a few more scans have run
        await desk.settled()
        assert closed_notices() == {u: 1 for u in customers}
        cards = card_keys(desk)
        assert max(cards.values()) == 1, [k for k, n in cards.items() if n > 1]
        assert {k for u, k in cards if u in managers} == {
            k for u, k in cards if k.startswith("digest_")
        }
        assert (await desk.statuses(db.tickets))["closed"] == RESOLVED
        # the dispatch scan: each lapsed offer expired once, its ticket offered once more
        offers = await desk.offers_per_ticket()
        assert offers == {
            t: ["expired", "open"] for t in range(RESOLVED + 1, RESOLVED + OFFERS + 1)
        }
        assert (fetched := desk.wecom.token_requests) == 1 + EXPIRIES, fetched
