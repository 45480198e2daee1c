"""Talking about a ticket: 回复 to the customer, the customer's own messages, @mentions in 备注."""

from __future__ import annotations

import re

from core import notify
from core.bus import CommandHandler, Context, EventHandler
from core.errors import FieldError, Forbidden, InvalidTransition, ValidationFailed
from core.tickets.commands import AddCustomerMessage, ReplyToCustomer
from core.tickets.events import NoteAdded
from core.tickets.handlers import load
from core.tickets.model import Ticket
from core.tickets.workflow import OPEN_STATUSES, STATUS_ZH

MAX_TEXT = 4000
_MENTION = re.compile(r"@([^\s@，。,:：;；]{1,32})")


def _open(ticket: Ticket, verb: str) -> None:
    if ticket.status not in OPEN_STATUSES:
        raise InvalidTransition(
            f"工单 {ticket.ref} 已{STATUS_ZH[ticket.status]}，无法{verb}。", field="status"
        )


async def reply_to_customer(cmd: ReplyToCustomer, ctx: Context) -> Ticket:
    ticket = await load(ctx, cmd.ticket_id)
    is_assignee = ticket.assignee_id == cmd.actor.person_id
    if not (cmd.actor.has("agent", "manager") or (is_assignee and cmd.actor.has("engineer"))):
        raise Forbidden(f"抱歉，只有客服、经理或负责的工程师可以回复工单 {ticket.ref} 的客户。")
    text = cmd.text.strip()
    if not text:
        raise ValidationFailed(
            [FieldError("text", f"请写上要回复的内容，例如：回复 {ticket.ref} 明天上午到场")]
        )
    _open(ticket, "回复")
    now = ctx.clock.now()
    entry = ticket.record(cmd.actor, now, "reply", text=text[:MAX_TEXT])
    ticket.mark_first_response(now)
    await ctx.uow.tickets.save(ticket)
    n = len(ticket.history)
    reached = await notify.tell(
        ctx,
        ticket.requester_id,
        f"【工单 {ticket.ref}】{entry.actor_name}：{text[:MAX_TEXT]}\n（直接回复即可补充到工单）",
        key=f"t{ticket.id}:reply:{n}",
        ticket_id=ticket.id,
        prefer=ticket.channel,
    )
    if not reached:
        raise ValidationFailed(
            [FieldError("requester", f"工单 {ticket.ref} 的客户没有可联系的聊天账号。")]
        )
    return ticket


async def add_customer_message(cmd: AddCustomerMessage, ctx: Context) -> Ticket:
    ticket = await load(ctx, cmd.ticket_id)
    if cmd.actor.person_id != ticket.requester_id:
        raise Forbidden(f"抱歉，只有报修人可以补充工单 {ticket.ref}。")
    _open(ticket, "补充")
    text = cmd.text.strip()
    if not text and not cmd.photos:
        raise ValidationFailed([FieldError("text", "请写上要补充的内容或发送照片。")])
    ticket.record(
        cmd.actor,
        ctx.clock.now(),
        "customer_message",
        text=text[:MAX_TEXT],
        photos=list(cmd.photos),
    )
    await ctx.uow.tickets.save(ticket)
    n = len(ticket.history)
    photos = f"（附照片 {len(cmd.photos)} 张）" if cmd.photos else ""
    message = f"工单 {ticket.ref} 客户补充：{text[:500]}{photos}"
    if ticket.assignee_id:
        await notify.tell(
            ctx, ticket.assignee_id, message, key=f"t{ticket.id}:cmsg:{n}", ticket_id=ticket.id
        )
    else:
        agents = await notify.people_with_role(ctx, "agent")
        await notify.tell_many(
            ctx, agents, message, key=f"t{ticket.id}:cmsg:{n}", ticket_id=ticket.id
        )
    return ticket


async def notify_mentions(event: NoteAdded, ctx: Context) -> None:
    """备注 with @姓名 or @id tells each mentioned staff member (never the customer)."""
    ticket = await load(ctx, event.ticket_id)
    note = next((e for e in reversed(ticket.history) if e.action == "note"), None)
    if note is None:
        return
    text = str(note.data.get("text", ""))
    n = len(ticket.history)
    for name in dict.fromkeys(_MENTION.findall(text)):
        person = await ctx.uow.people.find(name)
        if person is None or not person.is_staff or person.id == note.actor_id:
            continue
        await notify.tell(
            ctx,
            person.id,
            f"{note.actor_name} 在工单 {ticket.ref} 的备注中提到了您：{text[:500]}",
            key=f"t{ticket.id}:mention:{n}:{person.id}",
            ticket_id=ticket.id,
        )


COMMAND_HANDLERS: dict[type, CommandHandler] = {
    ReplyToCustomer: reply_to_customer,
    AddCustomerMessage: add_customer_message,
}
EVENT_HANDLERS: dict[type, list[EventHandler]] = {NoteAdded: [notify_mentions]}
