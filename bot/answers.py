"""Read-only answers to chat queries: 我的工单, 查看 #n, 统计."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import texts
from bot.decision import STAFF_ROLES, OpenFact, Query
from bot.links import ticket_url
from core import db
from core.assets.views import asset_text
from core.messages import Actor
from core.settings import DeskConfig
from core.sla.views import lines as sla_lines
from core.tickets.repository import TicketFilter
from core.tickets.texts import when
from core.tickets.workflow import OPEN_STATUSES, STATUS_ZH, Status
from core.uow import SqlUnitOfWork

_OPEN_TICKETS = (  # built once: every chat turn reads it
    select(db.tickets.c.id, db.tickets.c.fields)
    .where(
        db.tickets.c.requester_id == bindparam("requester"),
        # the statuses written into the SQL: bound, they were an "expanding" IN list that
        # SQLAlchemy rendered into the statement at every execution
        db.tickets.c.status.in_(
            [literal_column(f"'{s.value}'") for s in sorted(OPEN_STATUSES, key=str)]
        ),
    )
    .order_by(db.tickets.c.id.desc())
    .limit(20)
)


async def open_facts(conn: AsyncConnection, requester_id: str) -> tuple[OpenFact, ...]:
    """The requester's open tickets with their device and the last staff reply."""
    h = db.ticket_history
    rows = (await conn.execute(_OPEN_TICKETS, {"requester": requester_id})).all()
    if not rows:
        return ()
    replied = dict(
        (
            await conn.execute(
                select(h.c.ticket_id, func.max(h.c.at))
                .where(h.c.ticket_id.in_([r.id for r in rows]), h.c.action == "reply")
                .group_by(h.c.ticket_id)
            )
        ).all()
    )
    facts = []
    for r in rows:
        at = replied.get(r.id)
        facts.append(
            OpenFact(id=r.id, device=str((r.fields or {}).get("device", "")), staff_replied_at=at)
        )
    return tuple(facts)


async def _asset_answer(uow: SqlUnitOfWork, asset_id: str, actor: Actor, config: DeskConfig) -> str:
    """查看设备: staff see any machine; a customer sees the machines they reported on."""
    asset = await uow.assets.get(asset_id)
    if asset is None:
        return texts.NO_SUCH_ASSET.format(id=asset_id)
    history = await uow.assets.history(asset.id)
    if not actor.has(*STAFF_ROLES):
        mine, _ = await uow.tickets.list(
            TicketFilter(asset_id=asset.id, requester_id=actor.person_id, limit=1)
        )
        if not mine:
            return texts.ASSET_NOT_YOURS.format(id=asset.id)
    today = datetime.now(ZoneInfo(config.timezone)).date()
    return asset_text(asset, history, today=today, tz=config.timezone)


async def answer_text(
    uow: SqlUnitOfWork,
    query: Query,
    actor: Actor,
    config: DeskConfig,
    now: datetime | None = None,
    *,
    secret: bytes = b"",
) -> str:
    if query.name == "my_tickets":
        is_engineer = actor.has("engineer")
        flt = TicketFilter(
            status=[s.value for s in OPEN_STATUSES],
            assignee_id=actor.person_id if is_engineer else None,
            requester_id=None if is_engineer else actor.person_id,
            limit=10,
        )
        tickets, total = await uow.tickets.list(flt)
        if not tickets:
            return texts.NO_TICKETS
        lines = [
            texts.TICKET_LINE.format(ref=t.ref, title=t.title, status=STATUS_ZH[t.status])
            for t in tickets
        ]
        more = f"\n（共 {total} 个，仅显示最近 10 个）" if total > 10 else ""
        head = "您负责的未完成工单：" if is_engineer else "您未完成的工单："
        return head + "\n" + "\n".join(lines) + more
    if query.name == "asset":
        return await _asset_answer(uow, query.text, actor, config)
    ref = f"#{query.ticket_id}"
    ticket = await uow.tickets.get(query.ticket_id or 0, with_history=False)
    involved = ticket is not None and (
        actor.person_id in (ticket.requester_id, ticket.assignee_id)
        or actor.has("agent", "manager", "stock_keeper")
    )
    if not actor.has(*STAFF_ROLES) and not involved:
        # a customer learns nothing about other people's tickets, not even that they exist
        return texts.NOT_FOUND_OR_NOT_YOURS.format(ref=ref)
    if ticket is None:
        return texts.NO_SUCH_TICKET.format(ref=ref)
    if not involved:
        return texts.NOT_INVOLVED.format(ref=ref)
    assignee = await uow.people.get(ticket.assignee_id) if ticket.assignee_id else None
    ticket_type = config.ticket_type(ticket.type)
    detail = texts.TICKET_DETAIL.format(
        ref=ticket.ref,
        type=ticket_type.name if ticket_type else ticket.type,
        title=ticket.title,
        status=STATUS_ZH[ticket.status],
        assignee=assignee.name if assignee else "待分配",
        created=when(ticket.created_at, config.timezone),
        due=when(ticket.response_due_at, config.timezone),
    )
    clocks = await uow.sla.get(ticket.id)
    if clocks:  # each SLA target: due time, met or the working time left, and its pauses
        sla = sla_lines(config, clocks, now or datetime.now().astimezone())
        detail = detail.rsplit("\n", 1)[0] + "\n" + "\n".join(sla)
    if not secret:
        return detail
    url = ticket_url(config.public_base_url, secret, ticket.id)
    finished = ticket.status in (Status.RESOLVED, Status.CLOSED)
    return detail + (texts.REPORT_LINK if finished else texts.PROGRESS_LINK).format(url=url)
