"""Input hygiene shared by every entry point: ASCII numbers with bounds, bounded JSON nesting,
no NUL characters.

``str.isdigit`` is true for ``²`` and other Unicode digits that ``int()`` then refuses (or
reads as a different number), a 20-digit offset overflows a database integer, a body of a
hundred thousand ``[`` exhausts the parser's recursion, and PostgreSQL refuses a NUL in text.
Each of those was a 5xx; these helpers turn them into clear 4xx answers.
"""

from __future__ import annotations

import json
import re
from typing import Any

_DIGITS = re.compile(r"[0-9]{1,18}")
MAX_JSON_DEPTH = 32
PG_INT_MAX = 2**31 - 1


def ascii_int(text: str, *, lo: int = 0, hi: int = PG_INT_MAX) -> int | None:
    """The number written in ASCII digits within ``lo..hi``, else None (never an exception)."""
    if not isinstance(text, str) or not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if lo <= value <= hi else None


def json_depth(raw: str) -> int:
    """The deepest nesting of arrays and objects in a JSON text (strings are skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in raw:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def loads_bounded(raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` that refuses nesting deeper than ``max_depth`` with a ValueError."""
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    if json_depth(text) > max_depth:
        raise ValueError(f"JSON nested deeper than {max_depth} levels")
    return json.loads(text)


def nul_path(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string (or key) holding a NUL character, else None."""
    if isinstance(value, str):
        return (path or "body") if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return here
            found = nul_path(item, here)
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = nul_path(item, f"{path}.{i}" if path else str(i))
            if found:
                return found
    return None


def strip_nul(value: Any) -> Any:
    """The same JSON-like value with every NUL character removed from strings and keys."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {strip_nul(k): strip_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strip_nul(v) for v in value]
    return value
