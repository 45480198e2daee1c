"""Asset registry, QR tokens and service history on SQLAlchemy Core (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core import db
from core.assets.model import Asset, asset_key

_FIELDS = "model customer site_address region install_date warranty_end contract_end notes".split()
# candidate nameplate numbers in free text: letters/digits with - _ . / inside, at least one digit
_CANDIDATE = re.compile(r"(?<![A-Za-z0-9])([A-Za-z0-9][A-Za-z0-9._\-]{1,63})(?![A-Za-z0-9])")


def new_token() -> str:
    """192 random bits, URL-safe: unguessable (the QR code carries it)."""
    return secrets.token_urlsafe(24)


def _asset(row: Any) -> Asset:
    m = row._mapping
    return Asset(id=m["id"], **{name: m[name] for name in _FIELDS})


class SqlAssetRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._known: dict[str, Asset | None] = {}  # by key, read with ``get_many``

    async def get(self, asset_id: str) -> Asset | None:
        key = asset_key(asset_id)
        if key in self._known:
            return self._known[key]
        a = db.assets
        row = (await self._conn.execute(select(a).where(a.c.key == key))).first()
        return _asset(row) if row else None

    async def get_many(self, asset_ids: list[str]) -> None:
        """Read many assets in one statement; ``get`` then answers from memory for them."""
        keys = [k for k in dict.fromkeys(asset_key(i) for i in asset_ids) if k not in self._known]
        if keys:
            a = db.assets
            self._known.update(dict.fromkeys(keys))
            rows = await self._conn.execute(select(a).where(a.c.key.in_(keys)))
            self._known.update({r.key: _asset(r) for r in rows})

    async def list(self, *, limit: int | None = None, after: str | None = None) -> list[Asset]:
        """By upper-cased id; after the key ``after`` when given (keyset: nothing skipped over)."""
        a = db.assets
        stmt = select(a).order_by(a.c.key).limit(limit)
        if after is not None:
            stmt = stmt.where(a.c.key > after)
        return [_asset(r) for r in await self._conn.execute(stmt)]

    async def count(self) -> int:
        return int((await self._conn.execute(select(func.count()).select_from(db.assets))).scalar())

    async def find_in_text(self, text: str) -> Asset | None:
        """The registered asset whose number appears in ``text`` (the longest when several)."""
        found = await self.all_in_text(text)
        return found[0] if found else None

    async def all_in_text(self, text: str) -> list[Asset]:
        """The registered assets whose numbers appear in ``text``, longest number first."""
        keys: set[str] = set()
        for candidate in _CANDIDATE.findall(text or ""):
            if any(ch.isdigit() for ch in candidate):
                keys.add(asset_key(candidate.strip(".-_")))
        if not keys:
            return []
        a = db.assets
        rows = (await self._conn.execute(select(a).where(a.c.key.in_(sorted(keys)[:50])))).all()
        return sorted((_asset(r) for r in rows), key=lambda x: (-len(x.id), x.id))

    async def upsert(self, asset: Asset, *, at: datetime) -> bool:
        """Insert or update by id (ignoring case); True when it was new."""
        self._known.clear()
        a = db.assets
        values = {name: getattr(asset, name) for name in _FIELDS}
        result = await self._conn.execute(
            update(a).where(a.c.key == asset_key(asset.id)).values(**values, updated_at=at)
        )
        if result.rowcount:
            return False
        await self._conn.execute(
            insert(a).values(
                id=asset.id, key=asset_key(asset.id), **values, created_at=at, updated_at=at
            )
        )
        return True

    # --- scan-to-report tokens -----------------------------------------------------------

    async def token_for(self, asset_id: str, *, at: datetime) -> str:
        """The asset's live token; one is issued when it has none (first QR code, or revoked)."""
        t = db.asset_tokens
        row = (
            await self._conn.execute(
                select(t.c.token)
                .where(t.c.asset_id == asset_id, t.c.revoked_at.is_(None))
                .order_by(t.c.created_at.desc())
                .limit(1)
            )
        ).first()
        if row:
            return str(row.token)
        token = new_token()
        await self._conn.execute(insert(t).values(token=token, asset_id=asset_id, created_at=at))
        return token

    async def by_token(self, token: str) -> Asset | None:
        """The asset a live token opens; None for an unknown or revoked one."""
        t, a = db.asset_tokens, db.assets
        row = (
            await self._conn.execute(
                select(a)
                .select_from(t.join(a, a.c.id == t.c.asset_id))
                .where(t.c.token == token, t.c.revoked_at.is_(None))
            )
        ).first()
        return _asset(row) if row else None

    async def revoke_tokens(self, asset_id: str, *, at: datetime) -> int:
        """Refuse every token of the asset from now on; the next QR code gets a new one."""
        t = db.asset_tokens
        result = await self._conn.execute(
            update(t)
            .where(t.c.asset_id == asset_id, t.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return int(result.rowcount or 0)

    # --- service history ---------------------------------------------------------------

    async def history(self, asset_id: str, *, limit: int = 200) -> list[dict[str, Any]]:
        """Its tickets, newest first, with the parts used and the cost of each."""
        t, r, s = db.tickets, db.part_requests, db.settlements
        rows = (
            await self._conn.execute(
                select(
                    t.c.id,
                    t.c.title,
                    t.c.status,
                    t.c.created_at,
                    t.c.closed_at,
                    t.c.parts_cost,
                    s.c.total,
                )
                .select_from(t.outerjoin(s, s.c.ticket_id == t.c.id))
                .where(t.c.asset_id == asset_id)
                .order_by(t.c.id.desc())
                .limit(limit)
            )
        ).all()
        parts: dict[int, list[dict[str, Any]]] = {}
        if rows:
            requests = await self._conn.execute(
                select(r.c.ticket_id, r.c.lines)
                .where(r.c.ticket_id.in_([row.id for row in rows]), r.c.status == "approved")
                .order_by(r.c.id)
            )
            for ticket_id, lines in requests:
                parts.setdefault(int(ticket_id), []).extend(lines or [])
        return [
            {
                "id": row.id,
                "title": row.title,
                "status": row.status,
                "created_at": row.created_at,
                "closed_at": row.closed_at,
                "parts_cost": row.parts_cost,
                "settled_total": row.total,
                "parts": parts.get(int(row.id), []),
            }
            for row in rows
        ]
