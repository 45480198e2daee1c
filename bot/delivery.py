"""OutboxRelay: claim due outbox rows, render, send or update, back off, dead-letter.

Texts to one person that fall due together are coalesced into one message (WeCom silently
drops more than 30 messages a minute to one person). Card receipts are kept in the ``cards``
table so that a later update finds the message and, on WeCom, the latest ResponseCode.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import media
from bot.media import MediaStore, sniff
from bot.ports import AuthExpired, ChatPlatform, Permanent, Receipt, Retryable, Target
from cards.actions import TTL_S, Signer, recipient
from cards.registry import build
from core import db, outbox
from core.cache import Cache
from core.clock import Clock
from core.people.ids import valid_user_id
from core.queue import backoff, insert_ignoring_duplicates

log = logging.getLogger(__name__)

MAX_COALESCED_CHARS = 1800


class OutboxRelay:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        platforms: Mapping[str, ChatPlatform],
        clock: Clock,
        batch: int = 20,
        max_attempts: int = 12,
        lease_s: float = 120,
        action_secret: bytes = b"",
        retry_base_s: float = 2.0,
        retry_cap_s: float = 600.0,
        give_up_after_s: float = 86400.0,
        cache: Cache | None = None,
        per_person_per_minute: int = 20,
        media_store: MediaStore | None = None,
    ) -> None:
        self.media_store = media_store
        self.cache = cache
        self.per_person_per_minute = per_person_per_minute
        self.action_secret = action_secret
        self.retry_base_s = retry_base_s
        self.retry_cap_s = retry_cap_s
        self.give_up_after_s = give_up_after_s
        self.engine = engine
        self.platforms = platforms
        self.clock = clock
        self.batch = batch
        self.max_attempts = max_attempts
        self.lease_s = lease_s

    async def run_once(self) -> int:
        """Deliver what is due now; returns how many rows were handled."""
        async with self.engine.begin() as conn:
            rows = await outbox.claim_outbox(
                conn, now=self.clock.now(), limit=self.batch, lease_s=self.lease_s
            )
        for group in _coalesce(rows):
            if await self._over_budget(group):
                continue
            await self._deliver(group)
        return len(rows)

    async def _over_budget(self, group: list[dict[str, Any]]) -> bool:
        """WeCom drops messages beyond 30 a minute to one person, silently. Past our budget,
        a person's messages wait for the next minute, where they are merged into one."""
        key = self._budget_key(group[0])
        if key is None:
            return False
        sent = int(await self.cache.get(key) or 0) if self.cache else 0
        if sent < self.per_person_per_minute:
            return False
        now = self.clock.now()
        next_minute = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        async with self.engine.begin() as conn:
            for row in group:
                await outbox.mark_deferred(conn, row["id"], due_at=next_minute)
        return True

    def _budget_key(self, head: dict[str, Any]) -> str | None:
        """Only what reached the platform counts: failed attempts spend nothing."""
        if self.cache is None or not head["user_id"] or head["conversation_id"]:
            return None
        if head["kind"] == "fetch_media":
            return None
        minute = self.clock.now().strftime("%Y%m%d%H%M")
        return f"outbox:rate:{head['platform']}:{head['user_id']}:{minute}"

    async def _deliver(self, group: list[dict[str, Any]]) -> None:
        head = group[0]
        platform = self.platforms.get(head["platform"])
        ids = [r["id"] for r in group]
        if platform is None:
            await self._dead(ids, f"platform {head['platform']} is not configured")
            return
        try:
            receipt = await self._send(platform, head, group)
        except Retryable as exc:
            await self._retry(group, f"retryable: {exc}", exc.retry_after)
        except AuthExpired as exc:
            await self._retry(group, f"auth expired: {exc}", 30.0)
        except Permanent as exc:
            await self._dead(ids, f"permanent: {exc}")
        except Exception as exc:  # a bug in a renderer must not stop the relay
            log.exception("outbox delivery failed unexpectedly for rows %s", ids)
            await self._retry(group, f"error: {type(exc).__name__}: {exc}", None)
        else:
            async with self.engine.begin() as conn:
                if receipt is not None and head["card_key"]:
                    await save_receipt(
                        conn, receipt, ticket_id=head["ticket_id"], at=self.clock.now()
                    )
                await outbox.mark_sent(conn, ids, at=self.clock.now())
            key = self._budget_key(head)
            if key is not None and self.cache is not None:
                await self.cache.incr(key, 1, ttl=120)

    async def _send(
        self, platform: ChatPlatform, head: dict[str, Any], group: list[dict[str, Any]]
    ) -> Receipt | None:
        target = Target(
            platform=head["platform"],
            user_id=head["user_id"],
            conversation_id=head["conversation_id"],
        )
        kind = head["kind"]
        if target.user_id and not valid_user_id(target.platform, target.user_id):
            # a list (a|b|c) or a wildcard (@all) would reach many people: never send it
            raise Permanent(f"not one {target.platform} user id: {target.user_id[:80]!r}")
        if kind == "fetch_media":
            await self._fetch_media(platform, head)
            return None
        if kind == "text":
            text = "\n\n".join(r["payload"]["text"] for r in group)
            return await platform.send_text(target, text)
        card = build(head["payload"]["card"], key=head["card_key"], secret=self._signer(head))
        if kind == "card":
            return await platform.send_card(target, card)
        if kind == "card_update":
            async with self.engine.connect() as conn:
                receipt = await load_receipt(conn, head["platform"], card.key)
            if receipt is None:
                return await platform.send_card(target, card)
            return await platform.update_card(receipt, card)
        raise Permanent(f"unknown outbox kind {kind}")

    def _signer(self, head: dict[str, Any]) -> Signer:
        """Buttons are bound to the person the card goes to and expire (cards/actions.py)."""
        expires = int(self.clock.now().timestamp()) + TTL_S
        return Signer(self.action_secret, recipient(head["platform"], head["user_id"]), expires)

    async def _fetch_media(self, platform: ChatPlatform, row: dict[str, Any]) -> None:
        fetch = getattr(platform, "fetch_media", None)
        if fetch is None or self.media_store is None:
            raise Permanent(f"{row['platform']} media cannot be downloaded here")
        media_id = str(row["payload"].get("media_id", ""))
        data, declared = await fetch(media_id)
        digest = self.media_store.save(data)
        async with self.engine.begin() as conn:
            await media.record(
                conn,
                platform=row["platform"],
                media_id=media_id,
                sha256=digest,
                content_type=sniff(data, declared),
                size=len(data),
                at=self.clock.now(),
            )

    async def _retry(self, group: list[dict[str, Any]], error: str, hint: float | None) -> None:
        now = self.clock.now()
        async with self.engine.begin() as conn:
            for row in group:
                too_old = (now - row["created_at"]).total_seconds() > self.give_up_after_s
                if row["attempts"] >= self.max_attempts or too_old:
                    await outbox.mark_dead(conn, row["id"], error=f"gave up: {error}")
                    log.warning(
                        "outbox row %s dead-lettered after %s attempts", row["id"], row["attempts"]
                    )
                    continue
                delay = backoff(
                    row["attempts"], base=self.retry_base_s, cap=self.retry_cap_s, hint=hint
                )
                await outbox.mark_retry(
                    conn, row["id"], error=error, due_at=now + timedelta(seconds=delay)
                )

    async def _dead(self, ids: list[int], error: str) -> None:
        log.warning("outbox rows %s dead-lettered: %s", ids, error)
        async with self.engine.begin() as conn:
            for row_id in ids:
                await outbox.mark_dead(conn, row_id, error=error)


def _coalesce(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Group texts to the same recipient (in order); cards always travel alone."""
    groups: list[list[dict[str, Any]]] = []
    open_text: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        key = (row["platform"], row["user_id"], row["conversation_id"])
        if row["kind"] == "text" and row["payload"].get("coalesce", True):
            group = open_text.get(key)
            size = sum(len(r["payload"]["text"]) for r in group) if group else 0
            if group is not None and size + len(row["payload"]["text"]) <= MAX_COALESCED_CHARS:
                group.append(row)
                continue
            group = [row]
            open_text[key] = group
            groups.append(group)
        else:
            groups.append([row])
    return groups


async def save_receipt(conn: Any, receipt: Receipt, *, ticket_id: int | None, at: Any) -> None:
    values = {
        "user_id": receipt.target.user_id,
        "conversation_id": receipt.target.conversation_id,
        "ticket_id": ticket_id,
        "message_id": receipt.message_id,
        "response_code": receipt.response_code,
        "receipt": receipt.model_dump(mode="json"),
        "updated_at": at,
    }
    stmt = insert_ignoring_duplicates(conn, db.cards, ["platform", "card_key"])
    inserted = await conn.execute(
        stmt.returning(db.cards.c.card_key),
        {"platform": receipt.platform, "card_key": receipt.card_key, **values},
    )
    if not inserted.all():
        await conn.execute(
            update(db.cards)
            .where(db.cards.c.platform == receipt.platform, db.cards.c.card_key == receipt.card_key)
            .values(**values)
        )


async def load_receipt(conn: Any, platform: str, card_key: str) -> Receipt | None:
    row = (
        await conn.execute(
            select(db.cards).where(db.cards.c.platform == platform, db.cards.c.card_key == card_key)
        )
    ).first()
    if row is None:
        return None
    receipt = Receipt.model_validate(row.receipt)
    # the latest ResponseCode from a click (stored by the inbox worker) wins
    return receipt.model_copy(update={"response_code": row.response_code})


async def remember_response_code(
    conn: Any, *, platform: str, card_key: str, response_code: str, at: Any
) -> None:
    """A click brought a fresh (single-use) ResponseCode for this card: keep it for the update."""
    if not response_code:
        return
    await conn.execute(
        update(db.cards)
        .where(db.cards.c.platform == platform, db.cards.c.card_key == card_key)
        .values(response_code=response_code, updated_at=at)
    )
