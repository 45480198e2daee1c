"""Telling people things: texts and cards for a person, written to the outbox.

A person may be known on several platforms. Where a message goes is decided here and only here
(:func:`where`), for every kind of notice:

1. the person's ``prefer_platform`` from the config, when set;
2. else, for a message about a ticket, the platform the ticket came from (looked up from
   ``ticket_id``; a caller's ``prefer`` stands in when there is no ticket);
3. else the platform the person last wrote or clicked on;
4. else the first platform they are known on (alphabetically).

Each step counts only when the person is known there and that platform is enabled. Nothing is
sent to someone known on no platform (an API-only requester, say) or removed from the desk.
"""

from __future__ import annotations

import hashlib
from typing import Any

from core.bus import Context
from core.messages import Outbound
from core.people.model import Person


def where(
    person: Person | None, ticket_platform: str = "", enabled: tuple[str, ...] = ()
) -> tuple[str, str] | None:
    """Where to reach a person (the rule above): ``(platform, user id)`` or None."""
    if person is None or not person.active:
        return None  # people removed from the config are told nothing more
    known = {p: uid for p, uid in person.identities.items() if not enabled or p in enabled}
    if not known:
        return None
    for choice in (person.prefer_platform, ticket_platform, person.last_platform):
        if choice and choice in known:
            return choice, known[choice]
    platform = sorted(known)[0]
    return platform, known[platform]


async def _target(
    ctx: Context, person_id: str, ticket_id: int | None, prefer: str
) -> tuple[str, str] | None:
    platform = prefer
    if ticket_id is not None:
        ticket = await ctx.uow.tickets.get(ticket_id)  # usually already loaded by the handler
        platform = ticket.channel if ticket is not None else prefer
    return where(await ctx.uow.people.get(person_id), platform, ctx.config.platforms)


async def tell(
    ctx: Context,
    person_id: str | None,
    text: str,
    *,
    key: str,
    ticket_id: int | None = None,
    prefer: str = "",
) -> bool:
    """Queue a text for a person; ``key`` makes it once-only. False when unreachable."""
    if not person_id:
        return False
    target = await _target(ctx, person_id, ticket_id, prefer)
    if target is None:
        return False
    await ctx.uow.add_outbound(
        Outbound(
            platform=target[0], user_id=target[1], text=text, ticket_id=ticket_id, dedupe_key=key
        ),
        at=ctx.clock.now(),
    )
    return True


async def tell_many(
    ctx: Context, person_ids: list[str], text: str, *, key: str, ticket_id: int | None = None
) -> int:
    sent = 0
    for pid in dict.fromkeys(person_ids):
        sent += await tell(ctx, pid, text, key=f"{key}:{pid}", ticket_id=ticket_id)
    return sent


async def card(
    ctx: Context,
    person_id: str | None,
    *,
    builder: str,
    args: dict[str, Any],
    card_key: str,
    status: str = "",
    update: bool = False,
    ticket_id: int | None = None,
    prefer: str = "",
    key: str = "",
) -> bool:
    """Queue a new card (or, with ``update``, a new state of the card ``card_key``).

    The core only names a builder (cards/registry.py) and its arguments; the relay builds the
    neutral Card with the signing key and renders it for the platform.
    """
    if not person_id:
        return False
    target = await _target(ctx, person_id, ticket_id, prefer)
    if target is None:
        return False
    intent: dict[str, Any] = {"builder": builder, "args": args}
    if status:
        intent["status"] = status
    await ctx.uow.add_outbound(
        Outbound(
            platform=target[0],
            user_id=target[1],
            kind="card_update" if update else "card",
            card=intent,
            card_key=card_key,
            ticket_id=ticket_id,
            dedupe_key=key or _card_key(card_key, status, update),
        ),
        at=ctx.clock.now(),
    )
    return True


def _card_key(card_key: str, status: str, update: bool) -> str:
    if not update:
        return f"{card_key}:send"
    return f"{card_key}:update:{hashlib.sha1(status.encode()).hexdigest()[:16]}"


async def people_with_role(ctx: Context, *roles: str) -> list[str]:
    return [p.id for p in await ctx.uow.people.staff() if p.roles.intersection(roles)]
