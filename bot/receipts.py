"""Card receipts: what a send returned, kept in the ``cards`` table so that a later update
finds the message and, on WeCom, the latest single-use ResponseCode."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from bot.ports import Receipt
from core import db
from core.queue import insert_ignoring_duplicates


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
