"""Keyset pagination cursors for the REST lists: opaque to callers (URL-safe base64 of a kind
letter and the last row's key), checked strictly when they come back."""

from __future__ import annotations

import base64
import binascii
import re

from aiohttp import web

from core.inputs import ascii_int
from webhooks.errors import error_response

BAD_CURSOR = "无效的分页游标（cursor）：请原样使用上一页返回的 next_cursor，或去掉它从第一页开始"
_MAX_ID = 2**63 - 1
_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,40}")


class BadCursor(Exception):
    """Raised with the 400 response a bad cursor gets."""

    def __init__(self) -> None:
        self.response: web.Response = error_response(
            400, [{"field": "cursor", "message": BAD_CURSOR}]
        )


def encode(kind: str, key: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}{key}".encode()).decode().rstrip("=")


def decode(kind: str, cursor: str) -> int:
    """The key a cursor of ``kind`` carries; BadCursor for anything else."""
    if not _SHAPE.fullmatch(cursor):
        raise BadCursor
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise BadCursor from None
    key = ascii_int(raw[len(kind) :], lo=1, hi=_MAX_ID) if raw.startswith(kind) else None
    if key is None or encode(kind, key) != cursor:  # one spelling per position
        raise BadCursor
    return key
