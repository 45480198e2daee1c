"""Sign-off links and signatures on SQLAlchemy Core."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core import db


@dataclass(frozen=True)
class Signoff:
    token: str
    ticket_id: int
    round: int
    created_at: datetime
    signed_at: datetime | None
    signer: str
    image_sha256: str


def _row(row: Any) -> Signoff:
    m = row._mapping
    return Signoff(**{k: m[k] for k in Signoff.__dataclass_fields__})


class SqlSignoffRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def issue(self, ticket_id: int, round_: int, *, at: datetime) -> str:
        """The signing token of this completion (one per round; issuing twice gives the same)."""
        s = db.signoffs
        row = (
            await self._conn.execute(
                select(s.c.token).where(s.c.ticket_id == ticket_id, s.c.round == round_)
            )
        ).first()
        if row:
            return str(row.token)
        token = secrets.token_urlsafe(24)
        await self._conn.execute(
            insert(s).values(
                token=token,
                ticket_id=ticket_id,
                round=round_,
                created_at=at,
                signer="",
                image_sha256="",
            )
        )
        return token

    async def get(self, token: str) -> Signoff | None:
        s = db.signoffs
        row = (await self._conn.execute(select(s).where(s.c.token == token))).first()
        return _row(row) if row else None

    async def current(self, ticket_id: int) -> Signoff | None:
        """The latest completion's sign-off of the ticket (signed or not)."""
        s = db.signoffs
        row = (
            await self._conn.execute(
                select(s).where(s.c.ticket_id == ticket_id).order_by(s.c.round.desc()).limit(1)
            )
        ).first()
        return _row(row) if row else None

    async def signed(self, ticket_id: int) -> Signoff | None:
        s = db.signoffs
        row = (
            await self._conn.execute(
                select(s)
                .where(s.c.ticket_id == ticket_id, s.c.signed_at.is_not(None))
                .order_by(s.c.round.desc())
                .limit(1)
            )
        ).first()
        return _row(row) if row else None

    async def sign(self, token: str, *, signer: str, image_sha256: str, at: datetime) -> bool:
        """Record the signature once; False when it was already signed."""
        s = db.signoffs
        result = await self._conn.execute(
            update(s)
            .where(s.c.token == token, s.c.signed_at.is_(None))
            .values(signed_at=at, signer=signer, image_sha256=image_sha256)
        )
        return result.rowcount == 1
