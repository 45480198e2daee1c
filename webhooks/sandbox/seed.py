"""The demo workspace's history: six weeks of tickets, so 统计 and the dashboard show something.

Seeded once into the demo's own SQLite file (when it holds no ticket) and again by 重置, which
first empties every table the desk writes. The history is generated from a fixed seed relative
to "now", so every demo starts alike: closed and rated jobs, parts used, a few still open.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core import db
from core.settings import DeskConfig
from core.sla.calendar import add_business_minutes
from core.uow import SqlUnitOfWork
from webhooks.kb_cli import read_jsonl
from webhooks.sandbox.workspace import CUSTOMERS

EXTRA_CUSTOMERS = (("c-wufang", "吴芳", "华东精密"), ("c-heliang", "何亮", "南方塑业"))
SYMPTOMS = (
    "注塑机报警停机，液压压力不足",
    "加热圈不升温，料筒温度上不去",
    "空压机排气温度高，自动停机",
    "模具开合异响，需要检查",
    "滤芯堵塞，油压波动",
    "射胶不稳定，产品缺料",
    "例行保养预约",
)
DAYS = 42
DEMO_SPARE = {"HX-2000-01": "HX-2000-02"}
# What 重置 keeps: the directory and catalogues synced from the demo config at start (part stock
# is set again by the seed). Every other table is emptied, children first.
KEEP_TABLES = frozenset({"people", "identities", "parts", "assets", "asset_tokens", "counters"})
DEMO_KB = "demo_kb.jsonl"


def _actor(pid: str, name: str, channel: str) -> dict[str, str]:
    return {"actor_id": pid, "actor_name": name, "channel": channel}


async def is_seeded(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        return (await conn.execute(select(db.tickets.c.id).limit(1))).first() is not None


async def wipe(engine: AsyncEngine) -> None:
    """Empty what the demo wrote (tables that exist in this schema), reset the counters."""
    async with engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            if table.name not in KEEP_TABLES:
                await conn.execute(delete(table))
        await conn.execute(
            delete(db.identities).where(
                db.identities.c.person_id.in_(
                    select(db.people.c.id).where(db.people.c.kind == "customer")
                )
            )
        )
        await conn.execute(delete(db.people).where(db.people.c.kind == "customer"))
        await conn.execute(update(db.counters).values(value=0))


async def seed(engine: AsyncEngine, desk: DeskConfig, now: datetime) -> int:
    """Customers, parts stock and about sixty tickets over six weeks; returns how many."""
    rng = random.Random(20261201)
    staff = {p.id: p for p in desk.people}
    engineers = [p for p in desk.people if "engineer" in p.roles]
    keeper = next((p for p in desk.people if "stock_keeper" in p.roles), None)
    calendars = {c.key: c for c in desk.calendars}
    parts = {p.sku: p for p in desk.parts}
    used: dict[str, int] = {}
    async with engine.begin() as conn:
        customers = [(c.id, c.name, c.company, c) for c in CUSTOMERS]
        customers += [(cid, name, company, None) for cid, name, company in EXTRA_CUSTOMERS]
        for cid, name, _company, demo in customers:
            await conn.execute(
                insert(db.people).values(
                    id=cid,
                    name=name,
                    kind="customer",
                    roles=[],
                    region="",
                    skills=[],
                    on_duty=False,
                    max_open=0,
                    phone="",
                    active=True,
                    created_at=now - timedelta(days=90),
                )
            )
            if demo is not None:
                for platform in ("wecom", "dingtalk"):
                    await conn.execute(
                        insert(db.identities).values(
                            platform=platform,
                            user_id=demo.user_id(platform),
                            person_id=cid,
                            display_name=name,
                            created_at=now - timedelta(days=90),
                        )
                    )
        assets = list(desk.assets)
        count = 0
        for day in range(DAYS, -1, -1):
            for _ in range(3 if day <= 1 else rng.choice((0, 1, 1, 2, 2, 3))):
                count += 1
                created = now - timedelta(days=day, hours=rng.uniform(0.5, 9))
                asset = rng.choice(assets)
                region_engs = [e for e in engineers if e.region == asset.region] or engineers
                eng = rng.choice(region_engs)
                cust = rng.choice([c for c in customers if c[2] == asset.customer] or customers)
                await _ticket(
                    conn,
                    rng,
                    count,
                    created,
                    now,
                    asset.id,
                    eng,
                    cust,
                    keeper,
                    desk,
                    calendars,
                    parts,
                    used,
                    staff,
                )
        await conn.execute(
            update(db.counters).where(db.counters.c.name == "ticket").values(value=count)
        )
        for sku, part in parts.items():
            left = max(part.stock - used.get(sku, 0), part.min_stock + 2)
            await conn.execute(update(db.parts).where(db.parts.c.sku == sku).values(stock=left))
    await _knowledge(engine, now)
    return count


async def _knowledge(engine: AsyncEngine, now: datetime) -> None:
    """The demo's knowledge base (webhooks/sandbox/demo_kb.jsonl), as `chatdesk kb import`."""
    path = resources.files("webhooks.sandbox").joinpath(DEMO_KB)
    with resources.as_file(path) as file:
        articles, problems = read_jsonl(file)
    if problems:
        raise ValueError(f"{DEMO_KB}: {problems}")
    async with SqlUnitOfWork(engine) as uow:
        for article in articles:
            await uow.kb.upsert(article, at=now)
        await uow.commit()


async def _ticket(
    conn: Any,
    rng: random.Random,
    tid: int,
    created: datetime,
    now: datetime,
    device: str,
    eng: Any,
    cust: tuple[Any, ...],
    keeper: Any,
    desk: DeskConfig,
    calendars: dict[str, Any],
    parts: dict[str, Any],
    used: dict[str, int],
    staff: dict[str, Any],
) -> None:
    symptom = rng.choice(SYMPTOMS)
    ttype = (
        desk.ticket_types[1]
        if "保养" in symptom and len(desk.ticket_types) > 1
        else desk.ticket_types[0]
    )
    priority = rng.choice(("urgent", "high", "normal", "normal", "normal", "low"))
    targets = ttype.sla.get(priority) or ttype.sla.get("normal")  # type: ignore[call-overload]
    channel = rng.choice(("wecom", "dingtalk"))
    response_due = resolve_due = None
    if targets is not None:
        cal = calendars[targets.calendar]
        response_due = add_business_minutes(cal, created, targets.response_minutes)
        resolve_due = add_business_minutes(cal, created, targets.resolve_minutes)
    age_h = (now - created).total_seconds() / 3600
    # How far it got: old tickets are closed; recent ones stop at some step.
    stage = 6 if age_h > 72 else rng.choice((0, 1, 2, 3, 4, 5, 6, 6))
    if rng.random() < 0.04 and stage == 6:
        stage = -1  # cancelled
    t_assign = created + timedelta(minutes=rng.uniform(1, 5))
    t_accept = t_assign + timedelta(minutes=rng.uniform(5, 150 if rng.random() < 0.85 else 400))
    t_resolve = t_accept + timedelta(
        hours=rng.uniform(1.5, 16) if rng.random() < 0.85 else rng.uniform(16, 40)
    )
    t_close = t_resolve + timedelta(hours=rng.uniform(0.3, 20))
    if stage >= 0:  # nothing happens in the future
        for when, cap in ((t_close, 5), (t_resolve, 4), (t_accept, 1), (t_assign, 0)):
            if when >= now:
                stage = min(stage, cap)
    status = {
        -1: "cancelled",
        0: "new",
        1: "assigned",
        2: "accepted",
        3: "waiting_parts",
        4: "accepted",
        5: "resolved",
        6: "closed",
    }[stage]
    if stage not in (6, -1):
        # Open work belongs to customers nobody plays, and not to the demo machine, so that
        # 刘洋's first report of HX-2000-01 opens a new ticket instead of asking about an old one.
        cust = next((c for c in EXTRA_CUSTOMERS if c[2] == cust[2]), EXTRA_CUSTOMERS[0])
        device = DEMO_SPARE.get(device, device)
    cid, cname = cust[0], cust[1]
    rating = None
    if status == "closed":
        rating = rng.choices((5, 4, 3, 2), weights=(60, 28, 8, 4))[0]
    history: list[dict[str, Any]] = []

    def add(at: datetime, who: dict[str, str], action: str, **data: Any) -> None:
        history.append(
            {"ticket_id": tid, "at": min(at, now), **who, "action": action, "data": data}
        )

    customer = _actor(cid, cname, channel)
    system = _actor("system", "系统", "system")
    engineer = _actor(eng.id, eng.name, channel)
    add(
        created,
        customer,
        "opened",
        type=ttype.key,
        title=symptom[:60],
        priority=priority,
        requester=cid,
        fields={"device": device, "symptom": symptom},
    )
    assigned = stage >= 1 or stage == -1
    if assigned:
        add(
            t_assign, system, "status_changed", **{"from": "new", "to": "assigned"}, assignee=eng.id
        )
    if stage >= 2:
        add(t_accept, engineer, "status_changed", **{"from": "assigned", "to": "accepted"})
    cost, requests = 0.0, []
    if keeper is not None and (stage == 3 or (stage >= 4 and rng.random() < 0.5)):
        cost, request = _parts(rng, tid, eng.id, keeper, t_accept, stage, parts, used, add)
        requests.append(request)
    if stage >= 5:
        add(
            t_resolve,
            engineer,
            "status_changed",
            **{"from": "accepted", "to": "resolved"},
            summary="已更换部件，试机正常",
        )
    if stage == 6:
        add(t_close, customer, "status_changed", **{"from": "resolved", "to": "closed"})
        add(t_close, customer, "rated", score=rating, comment="")
    if stage == -1:
        add(t_assign, customer, "status_changed", **{"from": "assigned", "to": "cancelled"})
    last = max(h["at"] for h in history)
    await conn.execute(
        insert(db.tickets).values(
            id=tid,
            type=ttype.key,
            title=symptom[:60],
            description=symptom,
            priority=priority,
            status=status,
            requester_id=cid,
            assignee_id=eng.id if assigned else None,
            fields={"device": device, "symptom": symptom},
            asset_id=device,
            channel=channel,
            created_at=created,
            updated_at=last,
            first_response_at=t_accept if stage >= 2 else None,
            resolved_at=t_resolve if stage >= 5 else None,
            closed_at=t_close if stage == 6 else None,
            response_due_at=response_due,
            resolve_due_at=resolve_due,
            rating=rating,
            rating_comment="",
            parts_cost=cost,
            decline_count=0,
            version=len(history),
        )
    )
    for row in history:
        await conn.execute(insert(db.ticket_history).values(**row))
    for request in requests:
        await conn.execute(insert(db.part_requests).values(**request))


def _parts(
    rng: random.Random,
    tid: int,
    eng_id: str,
    keeper: Any,
    at: datetime,
    stage: int,
    parts: dict[str, Any],
    used: dict[str, int],
    add: Any,
) -> tuple[float, dict[str, Any]]:
    sku = rng.choice(list(parts))
    qty = rng.choice((1, 1, 2))
    part = parts[sku]
    lines = [{"sku": sku, "name": part.name, "qty": qty, "unit_cost": part.unit_cost}]
    cost = round(part.unit_cost * qty, 2)
    approved = stage > 3
    decided = at + timedelta(minutes=rng.uniform(10, 90))
    row = dict(
        ticket_id=tid,
        requested_by=eng_id,
        lines=lines,
        status="approved" if approved else "pending",
        decided_by=keeper.id if approved else None,
        decided_at=decided if approved else None,
        reason="",
        cost=cost if approved else 0.0,
        created_at=at + timedelta(minutes=5),
    )
    if not approved:
        return 0.0, row
    used[sku] = used.get(sku, 0) + qty
    add(decided, _actor(keeper.id, keeper.name, "wecom"), "parts_approved", cost=cost)
    return cost, row
