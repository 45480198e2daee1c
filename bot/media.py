"""Photos and files from the chat platforms, kept before the platform's ids expire.

WeCom media ids live three days and DingTalk download codes not much longer, so every image a
person sends is fetched at once (through the outbox, with its retries) and stored by content
hash under ``media_dir``; the ``media`` table maps the platform id to the stored file.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from core import db
from core.queue import insert_ignoring_duplicates

_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF8", "image/gif"),
    (b"RIFF", "image/webp"),
    (b"%PDF", "application/pdf"),
)


def sniff(data: bytes, declared: str = "") -> str:
    for magic, kind in _SIGNATURES:
        if data.startswith(magic):
            return kind
    declared = declared.split(";")[0].strip()
    return declared or "application/octet-stream"


class MediaStore:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def path(self, sha256: str) -> Path:
        return self.directory / sha256[:2] / sha256

    def save(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            temp = target.with_suffix(f".{os.getpid()}.tmp")
            temp.write_bytes(data)
            temp.replace(target)  # atomic: a reader never sees half a file
        return digest

    def read(self, sha256: str) -> bytes | None:
        target = self.path(sha256)
        return target.read_bytes() if target.is_file() else None


async def record(
    conn: AsyncConnection,
    *,
    platform: str,
    media_id: str,
    sha256: str,
    content_type: str,
    size: int,
    at: datetime,
) -> None:
    stmt = insert_ignoring_duplicates(conn, db.media, ["platform", "media_id"])
    await conn.execute(
        stmt,
        {"platform": platform, "media_id": media_id[:255], "sha256": sha256, "content_type": content_type,
         "size": size, "fetched_at": at},
    )  # fmt: skip


async def lookup(conn: AsyncConnection, platform: str, media_id: str) -> tuple[str, str] | None:
    row = (
        await conn.execute(
            select(db.media.c.sha256, db.media.c.content_type).where(
                db.media.c.platform == platform, db.media.c.media_id == media_id
            )
        )
    ).first()
    return (row.sha256, row.content_type) if row else None
