"""Turning claimed outbox rows into one platform call: render, send or update, fetch media."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bot import media
from bot.media import MediaStore, sniff
from bot.ports import ChatPlatform, Permanent, Receipt, Target
from bot.receipts import load_receipt
from cards.actions import TTL_S, Signer, recipient
from cards.registry import build
from core.clock import Clock
from core.people.ids import valid_user_id

MAX_COALESCED_CHARS = 1800


def check_target(head: Mapping[str, Any]) -> None:
    """A list (a|b|c) or a wildcard (@all) would reach many people: never send it."""
    user = head["user_id"]
    if user and head["kind"] != "fetch_media" and not valid_user_id(head["platform"], user):
        raise Permanent(f"not one {head['platform']} user id: {user[:80]!r}")


def coalesce(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """One recipient's rows (in order) as the messages to send: consecutive texts are merged up
    to MAX_COALESCED_CHARS; cards, updates and texts marked ``coalesce: false`` go alone."""
    groups: list[list[dict[str, Any]]] = []
    size = 0
    for row in rows:
        mergeable = row["kind"] == "text" and row["payload"].get("coalesce", True)
        length = len(row["payload"].get("text") or "") if mergeable else 0
        last = groups[-1] if groups else None
        if (
            mergeable
            and last is not None
            and last[-1]["kind"] == "text"
            and last[-1]["payload"].get("coalesce", True)
            and size + length <= MAX_COALESCED_CHARS
        ):
            last.append(row)
            size += length
            continue
        groups.append([row])
        size = length
    return groups


class Sender:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        clock: Clock,
        action_secret: bytes,
        media_store: MediaStore | None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.action_secret = action_secret
        self.media_store = media_store

    async def send(
        self, platform: ChatPlatform, head: dict[str, Any], group: list[dict[str, Any]]
    ) -> Receipt | None:
        target = Target(
            platform=head["platform"],
            user_id=head["user_id"],
            conversation_id=head["conversation_id"],
        )
        kind = head["kind"]
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
