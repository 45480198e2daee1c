"""The knowledge fixtures (tests/fixtures/kb, copied from the shared development set)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.kb.index import Doc
from webhooks.kb_cli import read_jsonl

KB_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "kb"
ARTICLES = KB_DIR / "articles.jsonl"


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


@lru_cache(maxsize=1)
def articles() -> tuple[dict[str, Any], ...]:
    return tuple(_lines(ARTICLES))


@lru_cache(maxsize=1)
def queries() -> tuple[dict[str, Any], ...]:
    return tuple(_lines(KB_DIR / "queries_dev.jsonl"))


def docs() -> list[Doc]:
    articles, problems = read_jsonl(ARTICLES)
    assert not problems, problems
    return [a.doc() for a in articles]
