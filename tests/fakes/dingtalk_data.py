"""Paths to the DingTalk test data: recorded fixtures and the shared known-answer vectors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "dingtalk"
GOLDEN = FIXTURES / "golden"
VECTORS = REPO / "tests" / "fixtures" / "vectors" / "dingtalk.json"


def load_vectors() -> dict[str, Any]:
    return json.loads(VECTORS.read_text(encoding="utf-8"))


def fixture(name: str) -> dict[str, Any]:
    """``tests/fixtures/dingtalk/inbound_<name>.json`` as a fresh dict."""
    return json.loads((FIXTURES / f"inbound_{name}.json").read_text(encoding="utf-8"))
