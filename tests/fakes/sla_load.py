"""Many due SLA clocks at once, and the config of the real `chatdesk serve` processes that scan
them (started with tests/fakes/serve.py): shared by the multi-instance test and bench/sla.py.

``seed`` writes assigned tickets and their clocks in bulk (what the core would have stored),
with the response warnings falling due at the given instants; ``server_config`` points WeCom
at a fake on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core import db
from core.people.directory import person_from_config
from core.people.model import Person, PersonKind
from core.settings import PersonConfig
from core.uow import SqlUnitOfWork
from tests.fakes.serve import base_config

ALWAYS = {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
RESPONSE_MINUTES = 60
CHUNK = 2000


def engineers(n: int) -> list[PersonConfig]:
    return [
        PersonConfig(id=f"e{i}", name=f"工程师{i}", roles=["engineer"], wecom_userid=f"e{i}")
        for i in range(n)
    ]


def desk_config(people: Sequence[PersonConfig], scan_seconds: float) -> dict[str, Any]:
    """The domain part of the config: a 24x7 calendar and a 60-minute response target."""
    return {
        "people": [p.model_dump(mode="json", exclude_defaults=True) for p in people],
        "calendars": [{"key": "always", "hours": ALWAYS}],
        "assignment": {"auto_dispatch": False},
        "sla": {"scan_seconds": scan_seconds},
        "ticket_types": [
            {
                "key": "repair",
                "name": "设备报修",
                "sla": {
                    "normal": {
                        "calendar": "always",
                        "response_minutes": RESPONSE_MINUTES,
                        "resolve_minutes": 100000,
                        "warn_percent": 75,
                    }
                },
            }
        ],
    }


async def seed(
    engine: AsyncEngine,
    people: Sequence[PersonConfig],
    warn_times: Sequence[datetime],
    *,
    first_id: int = 1,
) -> None:
    """One assigned ticket per warn time (round robin over ``people``), response clock warning
    then; the resolve clock far away. Policy stamps are the config's, so nothing recomputes."""
    from core.settings import DeskConfig
    from core.sla.clocks import fingerprint, policy_for
    from core.tickets.model import Priority

    desk = DeskConfig.model_validate(desk_config(people, 15))
    policy = policy_for(desk, "repair", Priority.NORMAL)
    stamp = fingerprint(policy, desk.calendars[0])
    async with SqlUnitOfWork(engine) as uow:
        for cfg in people:
            await uow.people.upsert(person_from_config(cfg), at=datetime.now(UTC))
        await uow.people.upsert(
            Person(id="kehu", name="客户", kind=PersonKind.CUSTOMER), at=datetime.now(UTC)
        )
        await uow.commit()
    warn_s = RESPONSE_MINUTES * 60 * 75 // 100
    async with engine.begin() as conn:
        for start in range(0, len(warn_times), CHUNK):
            tickets, clocks = [], []
            for i, warn in enumerate(warn_times[start : start + CHUNK], start + first_id):
                created = warn - timedelta(seconds=warn_s)
                due = created + timedelta(minutes=RESPONSE_MINUTES)
                tickets.append({
                    "id": i, "type": "repair", "title": f"负载工单 {i}", "description": "",
                    "priority": "normal", "status": "assigned", "requester_id": "kehu",
                    "assignee_id": people[i % len(people)].id, "fields": {}, "channel": "api",
                    "created_at": created, "updated_at": created, "response_due_at": due,
                    "rating_comment": "", "parts_cost": 0.0, "decline_count": 0, "version": 1,
                })  # fmt: skip
                common = {"ticket_id": i, "calendar": "always", "started_at": created,
                          "stopped": False, "pauses": [], "policy": stamp}  # fmt: skip
                clocks.append({**common, "name": "response", "minutes": RESPONSE_MINUTES,
                               "warn_seconds": warn_s, "due_at": due, "warn_at": warn,
                               "check_at": warn})  # fmt: skip
                far = created + timedelta(minutes=100000)
                clocks.append({**common, "name": "resolve", "minutes": 100000,
                               "warn_seconds": 100000 * 45, "due_at": far,
                               "warn_at": created + timedelta(seconds=100000 * 45),
                               "check_at": created + timedelta(seconds=100000 * 45)})  # fmt: skip
            await conn.execute(insert(db.tickets), tickets)
            await conn.execute(insert(db.sla_clocks), clocks)
        last = first_id + len(warn_times) - 1
        await conn.execute(
            update(db.counters).where(db.counters.c.name == "ticket").values(value=last)
        )


def server_config(
    *,
    database_url: str,
    redis_url: str,
    wecom: dict[str, Any],
    people: Sequence[PersonConfig],
    scan_seconds: float,
    port: int,
) -> dict[str, Any]:
    return {
        **base_config(database_url=database_url, redis_url=redis_url, port=port),
        "workers": {"outbox_poll_s": 0.2, "inbox_poll_s": 0.5, "per_person_per_minute": 30},
        "wecom": wecom,
        **desk_config(people, scan_seconds),
    }
