"""`chatdesk check-config` for Stream mode: no public URL, event keys or card secret needed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SECRET = "ding-secret-Yt42"
STREAM = f"""
dingtalk:
  app_key: dingabc
  app_secret: "{SECRET}"
  mode: stream
people:
  - {{id: li, name: 李娜, roles: [engineer], dingtalk_userid: "0123456"}}
"""


def check(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "chatdesk.yaml"
    path.write_text(text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATDESK_")}
    return subprocess.run(
        [sys.executable, "-m", "webhooks", "check-config", "--config", str(path)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_stream_mode_needs_only_the_app_credentials(tmp_path: Path) -> None:
    result = check(tmp_path, STREAM)
    assert result.returncode == 0, result.stderr
    assert "dingtalk (stream mode)" in result.stdout
    assert "card_template_id" in result.stdout  # StandardCard clicks cannot use the stream
    assert SECRET not in result.stdout + result.stderr


def test_a_template_silences_the_card_note(tmp_path: Path) -> None:
    result = check(
        tmp_path, STREAM.replace("mode: stream", "mode: stream\n  card_template_id: t.schema")
    )
    assert result.returncode == 0, result.stderr
    # no card note (a calendar note about next year's holiday data may be there)
    assert [
        line for line in result.stdout.splitlines() if "note" in line and "calendars." not in line
    ] == []


def test_bad_mode_and_gateway_are_named(tmp_path: Path) -> None:
    text = STREAM.replace("mode: stream", "mode: socket\n  stream_gateway: wss://x")
    result = check(tmp_path, text)
    assert result.returncode == 1
    assert "dingtalk.mode" in result.stderr and "dingtalk.stream_gateway" in result.stderr


def test_keeping_the_webhooks_in_stream_mode_needs_the_card_secret(tmp_path: Path) -> None:
    result = check(
        tmp_path, STREAM.replace("mode: stream", "mode: stream\n  stream_webhooks: true")
    )
    assert result.returncode == 1
    assert "card_callback_secret" in result.stderr
