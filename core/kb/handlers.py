"""Knowledge command handlers: suggestion outcomes for the reports; articles from tickets."""

from __future__ import annotations

from core.bus import Context
from core.errors import FieldError, ValidationFailed
from core.kb.commands import DraftArticleFromTicket, RecordKbOutcome
from core.kb.drafting import draft_from_ticket, offer_on_resolved
from core.kb.model import EventKind
from core.tickets.events import TicketResolved

OUTCOMES = (EventKind.SUGGEST, EventKind.DEFLECTED, EventKind.ESCALATED)


async def record_outcome(cmd: RecordKbOutcome, ctx: Context) -> None:
    if cmd.kind not in OUTCOMES:
        raise ValidationFailed([FieldError("kind", "不是知识建议的结果")])
    await ctx.uow.kb.record(
        cmd.kind,
        at=ctx.clock.now(),
        article_id=cmd.article_ids[0] if cmd.article_ids else None,
        query=cmd.query,
        person_id=cmd.actor.person_id,
        channel=cmd.actor.channel.value,
        hits=len(cmd.article_ids),
    )


COMMAND_HANDLERS = {RecordKbOutcome: record_outcome, DraftArticleFromTicket: draft_from_ticket}
EVENT_HANDLERS: dict[type, list] = {TicketResolved: [offer_on_resolved]}
