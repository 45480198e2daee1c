"""Ticket command and event handlers. They check roles, change state, record history."""

from __future__ import annotations

from typing import Any

from core.assets.model import Asset
from core.bus import Context
from core.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from core.messages import Outbound
from core.people.model import Person
from core.settings import FieldType, SlaTargets, TicketTypeConfig
from core.sla.calendar import add_business_minutes
from core.tickets import texts
from core.tickets.commands import AddNote, AssignTicket, ChangePriority, ChangeStatus, OpenTicket
from core.tickets.events import NoteAdded, TicketAssigned, TicketOpened, TicketStatusChanged
from core.tickets.fields import validate_fields
from core.tickets.model import Priority, Ticket, ref
from core.tickets.workflow import Status, check_transition, label

DEFAULT_SLA = {
    Priority.URGENT: (30, 240),
    Priority.HIGH: (60, 480),
    Priority.NORMAL: (120, 960),
    Priority.LOW: (480, 2880),
}


async def load(ctx: Context, ticket_id: int) -> Ticket:
    ticket = await ctx.uow.tickets.get(ticket_id)
    if ticket is None:
        raise NotFound(texts.NO_TICKET.format(ref=ref(ticket_id)))
    return ticket


def sla_targets(ctx: Context, ticket_type: TicketTypeConfig, priority: Priority) -> SlaTargets:
    if priority.value in ticket_type.sla:
        return ticket_type.sla[priority.value]  # type: ignore[index]
    response, resolve = DEFAULT_SLA[priority]
    return SlaTargets(
        calendar=ctx.config.calendars[0].key, response_minutes=response, resolve_minutes=resolve
    )


async def open_ticket(cmd: OpenTicket, ctx: Context) -> Ticket:
    cfg = ctx.config
    errors: list[FieldError] = []
    ticket_type = cfg.ticket_type(cmd.type) if cmd.type else cfg.ticket_types[0]
    if ticket_type is None:
        known = "、".join(t.key for t in cfg.ticket_types)
        raise ValidationFailed([FieldError("type", f"未知的工单类型 {cmd.type}，可选：{known}")])
    title = cmd.title.strip()
    if not title:
        errors.append(FieldError("title", "请填写标题"))
    elif len(title) > 200:
        errors.append(FieldError("title", "标题不能超过 200 个字"))
    try:
        priority = Priority(cmd.priority)
    except ValueError:
        errors.append(FieldError("priority", "优先级应为 urgent、high、normal 或 low"))
        priority = Priority.NORMAL
    raw_fields, known_assets = dict(cmd.fields), {a.id for a in cfg.assets}
    for spec in ticket_type.fields:  # a number in the registry is valid, in its own spelling
        value = raw_fields.get(spec.key)
        if spec.type is FieldType.ASSET and isinstance(value, str) and value.strip():
            registered = await ctx.uow.assets.get(value)
            if registered is not None:
                raw_fields[spec.key] = registered.id
                known_assets.add(registered.id)
    fields, field_errors = validate_fields(ticket_type, raw_fields, asset_ids=known_assets)
    errors.extend(field_errors)
    if errors:
        raise ValidationFailed(errors)
    requester: Person | None = await ctx.uow.people.get(cmd.requester_id)
    if requester is None:
        raise ValidationFailed([FieldError("requester", "找不到报修人")])
    if not cmd.actor.has("agent", "manager") and cmd.actor.person_id not in (
        requester.id,
        "system",
    ):
        raise Forbidden("只能为自己提交工单。")

    now = ctx.clock.now()
    targets = sla_targets(ctx, ticket_type, priority)
    calendar = next(c for c in cfg.calendars if c.key == targets.calendar)
    ticket = Ticket(
        id=await ctx.uow.tickets.next_id(),
        type=ticket_type.key,
        title=title,
        description=cmd.description.strip(),
        priority=priority,
        requester_id=requester.id,
        fields=fields,
        channel=cmd.actor.channel.value,
        created_at=now,
        updated_at=now,
        response_due_at=add_business_minutes(calendar, now, targets.response_minutes),
        resolve_due_at=add_business_minutes(calendar, now, targets.resolve_minutes),
    )
    asset = await _linked_asset(ctx, ticket_type, fields, f"{title} {ticket.description}")
    if asset is not None:
        ticket.asset_id = asset.id
        for spec in ticket_type.fields:
            if spec.type is FieldType.ASSET and fields.get(spec.key) != asset.id:
                fields[spec.key] = asset.id  # the registered spelling of the number
    ticket.record(
        cmd.actor,
        now,
        "opened",
        type=ticket_type.key,
        title=title,
        priority=priority.value,
        requester=requester.id,
        fields=fields,
        **({"asset": ticket.asset_id} if ticket.asset_id else {}),
    )
    await ctx.uow.tickets.add(ticket)
    ticket.events.append(
        TicketOpened(
            ticket_id=ticket.id,
            reply_platform=cmd.reply_platform,
            reply_user_id=cmd.reply_user_id,
            reply_conversation_id=cmd.reply_conversation_id,
        )
    )
    return ticket


async def _linked_asset(
    ctx: Context, ticket_type: TicketTypeConfig, fields: dict[str, Any], text: str
) -> Asset | None:
    """The registered machine a new ticket is about: an asset field naming a registered number,
    else a registered number written in the title or description."""
    for spec in ticket_type.fields:
        value = fields.get(spec.key)
        if spec.type is FieldType.ASSET and isinstance(value, str) and value:
            found: Asset | None = await ctx.uow.assets.get(value)
            if found is not None:
                return found
    values = " ".join(str(v) for v in fields.values() if isinstance(v, str))
    return await ctx.uow.assets.find_in_text(f"{text} {values}")


def _require_staff(ctx: Context, cmd: ChangeStatus | AssignTicket | AddNote, action: str) -> None:
    if not cmd.actor.has("agent", "engineer", "manager", "stock_keeper"):
        raise Forbidden(texts.STAFF_ONLY.format(action=action))


async def change_status(cmd: ChangeStatus, ctx: Context) -> Ticket:
    ticket = await load(ctx, cmd.ticket_id)
    try:
        target = Status(cmd.status)
    except ValueError:
        known = "、".join(s.value for s in Status)
        raise ValidationFailed(
            [FieldError("status", f"未知的状态 {cmd.status}，可选：{known}")]
        ) from None
    is_assignee = ticket.assignee_id == cmd.actor.person_id
    if not (cmd.actor.has("agent", "manager") or (is_assignee and cmd.actor.has("engineer"))):
        raise Forbidden(f"抱歉，只有客服、经理或负责的工程师可以修改工单 {ticket.ref} 的状态。")
    now = ctx.clock.now()
    previous = ticket.move_to(target, actor=cmd.actor, at=now, note=cmd.note)
    if target in (Status.ACCEPTED, Status.RESOLVED) and cmd.actor.person_id != ticket.requester_id:
        ticket.mark_first_response(now)  # work taken up or done; a mere move is no response
    await ctx.uow.tickets.save(ticket)
    ticket.events.append(
        TicketStatusChanged(ticket_id=ticket.id, previous=previous.value, current=target.value)
    )
    return ticket


async def assign_ticket(cmd: AssignTicket, ctx: Context) -> Ticket:
    if not cmd.actor.has("agent", "manager"):
        raise Forbidden("抱歉，只有客服或经理可以派单。")
    ticket = await load(ctx, cmd.ticket_id)
    assignee = await ctx.uow.people.get(cmd.assignee_id)
    if assignee is None or not assignee.active or "engineer" not in assignee.roles:
        raise ValidationFailed([FieldError("assignee", f"{cmd.assignee_id} 不是在职的工程师")])
    if ticket.assignee_id == assignee.id and ticket.status in (Status.ASSIGNED, Status.ACCEPTED):
        raise Conflict(f"工单 {ticket.ref} 已派给 {assignee.name}，无需重复派单。")
    check_transition(ticket.ref, ticket.status, Status.ASSIGNED)
    now = ctx.clock.now()
    previous_assignee = ticket.assignee_id
    ticket.assignee_id = assignee.id
    ticket.move_to(Status.ASSIGNED, actor=cmd.actor, at=now, assignee=assignee.id, note=cmd.note)
    # not a first response: the customer hears nothing until the engineer accepts
    await ctx.uow.tickets.save(ticket)
    ticket.events.append(
        TicketAssigned(
            ticket_id=ticket.id, assignee_id=assignee.id, previous_assignee_id=previous_assignee
        )
    )
    return ticket


async def change_priority(cmd: ChangePriority, ctx: Context) -> Ticket:
    if not cmd.actor.has("agent", "manager"):
        raise Forbidden("抱歉，只有客服或经理可以修改优先级。")
    try:
        priority = Priority(cmd.priority)
    except ValueError:
        raise ValidationFailed(
            [FieldError("priority", "优先级应为 urgent、high、normal 或 low")]
        ) from None
    ticket = await load(ctx, cmd.ticket_id)
    if ticket.priority is priority:
        return ticket
    previous = ticket.priority
    ticket.priority = priority
    ticket.record(
        cmd.actor, ctx.clock.now(), "priority_changed",
        **{"from": previous.value, "to": priority.value}, note=cmd.note,
    )  # fmt: skip
    await ctx.uow.tickets.save(ticket)  # the SLA clocks follow before the commit
    return ticket


async def add_note(cmd: AddNote, ctx: Context) -> Ticket:
    _require_staff(ctx, cmd, "添加备注")
    text = cmd.text.strip()
    if not text:
        raise ValidationFailed([FieldError("text", "备注内容不能为空")])
    ticket = await load(ctx, cmd.ticket_id)
    ticket.record(cmd.actor, ctx.clock.now(), "note", text=text[:4000], internal=cmd.internal)
    await ctx.uow.tickets.save(ticket)
    ticket.events.append(NoteAdded(ticket_id=ticket.id, internal=cmd.internal))
    return ticket


# --- event handlers ----------------------------------------------------------------------


async def tell_requester_opened(event: TicketOpened, ctx: Context) -> None:
    if not event.reply_platform:
        return
    ticket = await load(ctx, event.ticket_id)
    ticket_type = ctx.config.ticket_type(ticket.type)
    text = texts.opened(
        ticket.ref,
        ticket_type.name if ticket_type else ticket.type,
        texts.when(ticket.response_due_at, ctx.config.timezone),
    )
    await ctx.uow.add_outbound(
        Outbound(
            platform=event.reply_platform,
            user_id=event.reply_user_id,
            conversation_id=event.reply_conversation_id,
            text=text,
            ticket_id=ticket.id,
            dedupe_key=f"t{ticket.id}:opened",
        ),
        at=ctx.clock.now(),
    )


COMMAND_HANDLERS = {
    OpenTicket: open_ticket,
    ChangeStatus: change_status,
    AssignTicket: assign_ticket,
    ChangePriority: change_priority,
    AddNote: add_note,
}

EVENT_HANDLERS = {
    TicketOpened: [tell_requester_opened],
    TicketStatusChanged: [],
    NoteAdded: [],
}

__all__ = ["COMMAND_HANDLERS", "EVENT_HANDLERS", "label"]
