"""存为知识: a draft article (fault, cause, fix) from a resolved ticket, for an agent to review.

The fault is what the customer reported (the description and the symptom field), the cause is
what staff noted on the ticket (备注), the fix is the engineer's 完工 summary. One draft per
ticket (id ``KB-T<n>``): saving again says where the draft is.
"""

from __future__ import annotations

from core import notify
from core.bus import Context
from core.errors import Forbidden, InvalidTransition
from core.kb import texts as T
from core.kb.commands import DraftArticleFromTicket
from core.kb.model import MAX_BODY, MAX_TITLE, Article, ArticleStatus
from core.tickets.events import TicketResolved
from core.tickets.handlers import load
from core.tickets.model import Ticket
from core.tickets.workflow import STATUS_ZH, Status

DRAFTABLE = (Status.RESOLVED, Status.CLOSED)


def article_id_for(ticket_id: int) -> str:
    return f"KB-T{ticket_id}"


def offer_key(ticket_id: int, round_: int) -> str:
    return f"t{ticket_id}_kb_r{round_}"


def draft_article(ticket: Ticket, *, author: str, product: str = "") -> Article:
    symptom = str(ticket.fields.get("symptom", "") or "").strip()
    fault = "\n".join(x for x in dict.fromkeys([ticket.description.strip(), symptom]) if x)
    notes = [str(e.data.get("text", "")).strip() for e in ticket.history if e.action == "note"]
    fixes = [
        str(e.data.get("summary", "")).strip()
        for e in ticket.history
        if e.action == "status_changed" and e.data.get("to") == Status.RESOLVED.value
    ]
    body = "\n".join(
        [
            f"现象：{fault or ticket.title}",
            f"原因：{'；'.join(n for n in notes if n) or T.TBD}",
            f"处理：{(fixes[-1] if fixes and fixes[-1] else T.TBD)}",
            f"来源：工单 {ticket.ref}",
        ]
    )
    device = str(ticket.fields.get("device", "") or ticket.asset_id or "")
    tags = tuple(t for t in dict.fromkeys([product, ticket.type]) if t)
    title = ticket.title.strip() or f"工单 {ticket.ref}"
    return Article(
        id=article_id_for(ticket.id),
        title=title[:MAX_TITLE],
        body=body[:MAX_BODY],
        tags=tags,
        product=product or device[:100],
        status=ArticleStatus.DRAFT,
        author=author,
        source_ticket_id=ticket.id,
    )


async def _product(ctx: Context, ticket: Ticket) -> str:
    if ticket.asset_id and hasattr(ctx.uow, "assets"):
        asset = await ctx.uow.assets.get(ticket.asset_id)
        if asset is not None:
            return str(getattr(asset, "model", "") or "")
    return ""


async def draft_from_ticket(cmd: DraftArticleFromTicket, ctx: Context) -> Article:
    ticket = await load(ctx, cmd.ticket_id)
    actor = cmd.actor
    own = actor.has("engineer") and ticket.assignee_id == actor.person_id
    if not (own or actor.has("agent", "manager")):
        raise Forbidden(T.NOT_ALLOWED.format(ref=ticket.ref))
    if ticket.status not in DRAFTABLE:
        raise InvalidTransition(
            T.NOT_RESOLVED.format(ref=ticket.ref, status=STATUS_ZH[ticket.status]), field="status"
        )
    existing = await ctx.uow.kb.get(article_id_for(ticket.id))
    if existing is not None:
        await notify.tell(
            ctx,
            actor.person_id,
            T.ALREADY_DRAFTED.format(ref=ticket.ref, article=existing.id),
            key=f"kbdraft:{ticket.id}:again:{ctx.clock.now().isoformat()}",
            ticket_id=ticket.id,
        )
        return existing
    article = draft_article(ticket, author=actor.person_id, product=await _product(ctx, ticket))
    await ctx.uow.kb.upsert(article, at=ctx.clock.now())
    args = {"id": ticket.id, "title": ticket.title}
    round_ = sum(
        1
        for e in ticket.history
        if e.action == "status_changed" and e.data.get("to") == Status.RESOLVED.value
    )
    if ticket.assignee_id:
        await notify.card(
            ctx,
            ticket.assignee_id,
            builder="kb_offer",
            args=args,
            card_key=offer_key(ticket.id, max(round_, 1)),
            status=T.CARD_STATUS.format(name=actor.name, article=article.id),
            update=True,
            ticket_id=ticket.id,
        )
    await notify.tell(
        ctx,
        actor.person_id,
        T.DRAFTED.format(ref=ticket.ref, article=article.id),
        key=f"kbdraft:{ticket.id}:done",
        ticket_id=ticket.id,
    )
    agents = [p for p in await notify.people_with_role(ctx, "agent") if p != actor.person_id]
    await notify.tell_many(
        ctx,
        agents,
        T.DRAFTED_FOR_AGENTS.format(
            name=actor.name, ref=ticket.ref, article=article.id, title=article.title
        ),
        key=f"kbdraft:{ticket.id}:agents",
        ticket_id=ticket.id,
    )
    return article


async def offer_on_resolved(event: TicketResolved, ctx: Context) -> None:
    """The engineer's card after 完工 offers 存为知识."""
    ticket = await load(ctx, event.ticket_id)
    await notify.card(
        ctx,
        event.engineer_id,
        builder="kb_offer",
        args={"id": ticket.id, "title": ticket.title},
        card_key=offer_key(ticket.id, event.round),
        ticket_id=ticket.id,
    )
