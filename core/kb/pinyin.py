"""The pinyin syllable (no tone) of one character, as pypinyin's ``lazy_pinyin`` gives it.

Importing pypinyin costs about 55 MB (its phrase dictionary), and the analyzer only ever asks
for single characters. So the answers for every code point below ``END`` (all of CJK, the
analyzer's range) are kept in ``syllables.txt``, made by pypinyin itself
(``python -m core.kb.pinyin`` writes it again; tests/unit/kb/test_pinyin.py checks every code
point against pypinyin). Anything beyond asks pypinyin (imported then, once).
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

TABLE = Path(__file__).with_name("syllables.txt")
END = 0xA000  # the table covers every code point below this; unlisted ones are their own
_PER_LINE = 32


def from_pypinyin(char: str) -> str:
    from pypinyin import Style, lazy_pinyin

    return str(lazy_pinyin(char, style=Style.NORMAL)[0])


@lru_cache(maxsize=1)
def _table() -> tuple[int, list[str | None]]:
    """(first code point, syllable of each code point from there; None: the character itself)."""
    rows = [line.split() for line in TABLE.read_text(encoding="utf-8").splitlines() if line]
    first = int(rows[0][0], 16)
    table: list[str | None] = [None] * (END - first)
    names: dict[str, str] = {}
    for start, *syllables in rows:
        at = int(start, 16) - first
        for i, name in enumerate(syllables):
            table[at + i] = names.setdefault(name, name)  # one string per syllable
    return first, table


def syllable(char: str) -> str:
    code = ord(char)
    if code >= END:
        return _beyond(char)
    first, table = _table()
    return (table[code - first] if code >= first else None) or char


@lru_cache(maxsize=4096)
def _beyond(char: str) -> str:
    return from_pypinyin(char)


def write_table(path: Path = TABLE) -> int:
    """Write the table from pypinyin; returns how many code points have a syllable."""
    found = {c: s for c in range(END) if (s := from_pypinyin(chr(c))) != chr(c)}
    lines, run, start = [], [], -1
    for code in sorted(found):
        if run and (code != start + len(run) or len(run) == _PER_LINE):
            lines.append(f"{start:04x} {' '.join(run)}")
            run = []
        if not run:
            start = code
        run.append(found[code])
    if run:
        lines.append(f"{start:04x} {' '.join(run)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(found)


if __name__ == "__main__":
    print(f"{write_table()} code points written to {TABLE}", file=sys.stderr)
