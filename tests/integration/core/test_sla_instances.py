"""Three real `chatdesk serve` processes share one PostgreSQL and Redis and scan concurrently
over 2,000 due SLA warnings: every warning reaches the fake WeCom exactly once.

Collected only when CHATDESK_TEST_DATABASE_URL and CHATDESK_TEST_REDIS_URL are set (the point
is PostgreSQL's row locks across processes and the shared cache).
"""

from __future__ import annotations

import asyncio
import os
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from core import db
from tests.e2e.helpers import eventually
from tests.e2e.platforms import wecom_settings
from tests.fakes.serve import free_port, serving
from tests.fakes.sla_load import engineers, seed, server_config
from tests.fakes.wecom_api import start_fake_wecom
from webhooks.bootstrap import migrate

TICKETS = 2000
INSTANCES = 3
_WARNED = re.compile(r"#(\d+) 响应")

if os.environ.get("CHATDESK_TEST_DATABASE_URL") and os.environ.get("CHATDESK_TEST_REDIS_URL"):

    def read_logs(folder: Path) -> list[str]:
        return [p.read_text() for p in folder.glob("*.log")]

    def warned_ids(sent: list[dict]) -> Counter[int]:
        ids: Counter[int] = Counter()
        for message in sent:
            card = message.get("template_card") or {}
            if "_slaw_" not in str(card.get("task_id", "")):
                continue
            labels = [h.get("keyname", "") for h in card.get("horizontal_content_list", [])]
            ids.update({int(m) for label in labels for m in _WARNED.findall(label)})
        return ids

    async def test_three_instances_send_every_warning_exactly_once(
        database_url: str, redis_url: str, tmp_path: Path
    ) -> None:
        engine = db.make_engine(database_url)
        people = engineers(50)
        now = datetime.now(UTC)
        # all 2,000 warnings are due within the first two seconds of the run
        warn_times = [now + timedelta(milliseconds=i) for i in range(TICKETS)]
        try:
            await migrate(engine)
            await seed(engine, people, warn_times)
        finally:
            await engine.dispose()
        async with start_fake_wecom() as fake:
            configs = [
                server_config(
                    database_url=database_url,
                    redis_url=redis_url,
                    wecom=wecom_settings(fake.base_url),
                    people=people,
                    scan_seconds=1,
                    port=free_port(),
                )
                for _ in range(INSTANCES)
            ]
            async with (
                serving(configs[0], tmp_path, "a"),
                serving(configs[1], tmp_path, "b"),
                serving(configs[2], tmp_path, "c"),
            ):
                done = await eventually(
                    lambda: sum(warned_ids(fake.sent).values()) >= TICKETS, timeout=120, every=0.5
                )
                assert done
                await asyncio.sleep(3)  # a few more scans by every instance: nothing more
        ids = warned_ids(fake.sent)
        assert set(ids) == set(range(1, TICKETS + 1))
        assert max(ids.values()) == 1, [i for i, n in ids.items() if n > 1][:10]
        engine = db.make_engine(database_url)
        try:
            async with engine.connect() as conn:
                h = db.ticket_history.c
                warned = (
                    await conn.execute(select(func.count()).where(h.action == "sla_warned"))
                ).scalar()
                marks = (
                    await conn.execute(
                        select(func.count()).where(db.sla_clocks.c.warned_at.is_not(None))
                    )
                ).scalar()
        finally:
            await engine.dispose()
        assert warned == marks == TICKETS
        logs = "".join(read_logs(tmp_path))
        assert "Traceback" not in logs, logs[-3000:]
