"""What the REST lists share: ``limit``, ``cursor`` and ``count=true`` read from the query, and
the page cut from a read of one row more than asked (that row tells whether a next page
exists). The cursors themselves are webhooks/cursor.py's."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from core.errors import FieldError
from core.inputs import ascii_int
from webhooks import cursor

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
K = TypeVar("K", int, str)
Row = TypeVar("Row")


def flag(query: Mapping[str, str], name: str, errors: list[FieldError]) -> bool:
    """A true/false query parameter (false when absent); a bad value is added to ``errors``."""
    value = query.get(name, "false").lower()
    if value not in ("true", "false", "1", "0"):
        errors.append(FieldError(name, "应为 true 或 false"))
    return value in ("true", "1")


@dataclass(frozen=True)
class Page(Generic[K]):
    """One list request's paging: ``limit`` (None: everything), ``count`` (add ``total``) and
    the cursor it brought, read by ``after`` (raises cursor.BadCursor, answered with a 400)."""

    kind: str
    limit: int | None
    count: bool
    raw_cursor: str | None
    decode: Callable[[str, str], K]

    @property
    def after(self) -> K | None:
        """The key of the last row the previous page ended with, or None on the first page."""
        return None if self.raw_cursor is None else self.decode(self.kind, self.raw_cursor)

    @property
    def fetch(self) -> int | None:
        """How many rows to read: one more than the limit."""
        return None if self.limit is None else self.limit + 1

    def cut(self, rows: Sequence[Row], key: Callable[[Row], K]) -> tuple[list[Row], str | None]:
        """The page's rows and the ``next_cursor`` (None on the last page)."""
        if self.limit is None or len(rows) <= self.limit:
            return list(rows), None
        kept = list(rows[: self.limit])
        return kept, cursor.encode(self.kind, key(kept[-1]))


def read_page(
    query: Mapping[str, str],
    errors: list[FieldError],
    *,
    kind: str,
    decode: Callable[[str, str], K],
    default_limit: int | None = DEFAULT_LIMIT,
) -> Page[K]:
    """``limit`` (1 to 200; ``default_limit`` when absent), ``count`` and ``cursor`` of a list
    request; what is wrong with the first two is added to ``errors`` for the caller's 422."""
    limit: int | None = default_limit
    if "limit" in query:
        limit = ascii_int(query["limit"], lo=1, hi=MAX_LIMIT)
        if limit is None:
            errors.append(FieldError("limit", f"应为 1 到 {MAX_LIMIT} 的整数"))
    count = flag(query, "count", errors)
    return Page(kind, limit, count, query.get("cursor"), decode)
