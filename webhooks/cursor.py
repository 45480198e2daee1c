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
_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,400}")


class BadCursor(Exception):
    """Raised with the 400 response a bad cursor gets."""

    def __init__(self) -> None:
        self.response: web.Response = error_response(
            400, [{"field": "cursor", "message": BAD_CURSOR}]
        )


def encode(kind: str, key: int | str) -> str:
    return base64.urlsafe_b64encode(f"{kind}{key}".encode()).decode().rstrip("=")


def _payload(kind: str, cursor: str) -> str:
    if not _SHAPE.fullmatch(cursor):
        raise BadCursor
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, ValueError):
        raise BadCursor from None
    if not raw.startswith(kind) or encode(kind, raw[len(kind) :]) != cursor:
        raise BadCursor  # another list's cursor, or not one spelling this API gives out
    return raw[len(kind) :]


def decode(kind: str, cursor: str) -> int:
    """The number a cursor of ``kind`` carries; BadCursor for anything else."""
    key = ascii_int(_payload(kind, cursor), lo=1, hi=_MAX_ID)
    if key is None or encode(kind, key) != cursor:
        raise BadCursor
    return key


def decode_text(kind: str, cursor: str) -> str:
    """The text key (an article id) a cursor of ``kind`` carries; BadCursor for anything else."""
    key = _payload(kind, cursor)
    if not key or not key.isprintable():
        raise BadCursor
    return key
