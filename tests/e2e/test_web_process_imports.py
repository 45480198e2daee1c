"""The web process of `chatdesk serve` carries only what acknowledging and the REST API need:
the knowledge search's libraries (jieba and its dictionary trie) come with the first search
(numpy never: the index is plain arrays; nor SQLAlchemy's ORM: webhooks/memory.py), the xlsx,
QR, Stream and scheduler libraries never while they are not used, and pypinyin not even then
(its answers are stored; see core/kb/pinyin.py)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO_ROOT


def test_the_web_process_loads_the_search_libraries_at_the_first_search(
    database_url: str, redis_url: str
) -> None:
    probe = subprocess.run(
        [sys.executable, "-m", "tests.e2e.web_process_probe", database_url, redis_url],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    seen = json.loads(probe.stdout.strip().splitlines()[-1])
    assert seen["started"] == []
    assert seen["acks_and_api"] == []
    assert seen["kb_search"] == ["jieba", "marisa_trie"]
