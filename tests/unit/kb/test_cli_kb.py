"""`chatdesk kb import` and `chatdesk kb search [--json]` (CONTRACT §2), as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.kb_data import ARTICLES

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "CHATDESK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'kb.db'}"}


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "webhooks", "kb", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_import_then_search_json(env: dict[str, str]) -> None:
    out = run(env, "import", str(ARTICLES))
    assert out.returncode == 0, out.stderr
    assert "80 new" in out.stdout

    found = run(env, "search", "AL-21", "--json")
    assert found.returncode == 0, found.stderr
    rows = json.loads(found.stdout)
    assert rows[0]["id"] == "KB-013"
    assert set(rows[0]) == {"id", "title", "score"}
    assert isinstance(rows[0]["score"], float)

    several = json.loads(run(env, "search", "打印机 打印模糊", "--json", "--limit", "2").stdout)
    assert 1 <= len(several) <= 2
    assert [r["score"] for r in several] == sorted((r["score"] for r in several), reverse=True)

    assert json.loads(run(env, "search", "公司食堂周末开不开", "--json").stdout) == []
    plain = run(env, "search", "空压机漏油")
    assert plain.returncode == 0 and "KB-021" in plain.stdout


def test_import_upserts_by_id(env: dict[str, str], tmp_path: Path) -> None:
    first = tmp_path / "a.jsonl"
    first.write_text(
        json.dumps({"id": "X-1", "title": "贴标机标签歪斜", "body": "调整导轨"}, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    assert run(env, "import", str(first)).returncode == 0
    first.write_text(
        json.dumps(
            {"id": "X-1", "title": "贴标机标签起皱", "body": "更换压辊", "tags": ["贴标机"]},
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    out = run(env, "import", str(first))
    assert "0 new, 1 updated" in out.stdout
    rows = json.loads(run(env, "search", "贴标机 起皱", "--json").stdout)
    assert rows == [{"id": "X-1", "title": "贴标机标签起皱", "score": rows[0]["score"]}]


def test_a_bad_line_imports_nothing_and_names_the_line(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"id": "OK-1", "title": "打印机卡纸", "body": "打开前盖"}\n'
        '{"id": "OK-2", "title": "", "body": "x"}\n'
        "not json\n"
        '{"id": "bad id!", "title": "t", "body": "b"}\n',
        encoding="utf-8",
    )
    out = run(env, "import", str(bad))
    assert out.returncode == 1
    assert "line 2: title" in out.stderr
    assert "line 3:" in out.stderr
    assert "line 4: id" in out.stderr
    assert json.loads(run(env, "search", "打印机卡纸", "--json").stdout) == []


def test_missing_file_and_bad_limit(env: dict[str, str], tmp_path: Path) -> None:
    assert run(env, "import", str(tmp_path / "none.jsonl")).returncode == 1
    assert run(env, "search", "x", "--limit", "0").returncode == 1
