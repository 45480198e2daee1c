"""`chatdesk sla due` (CONTRACT §2): business minutes on a configured calendar, from the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def run(*args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "webhooks", "sla", "due", *args]
    if config:
        cmd += ["--config", str(config)]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(
    ("start", "minutes", "due"),
    [
        ("2025-09-30T17:00:00+08:00", "120", "2025-10-09T10:00:00+08:00"),  # National Day off
        ("2025-09-27T17:00:00+08:00", "120", "2025-09-28T11:00:00+08:00"),  # Sunday 调休 worked
        ("2025-09-30T08:00:00+00:00", "30", "2025-09-30T16:30:00+08:00"),  # UTC in, local out
        ("2025-10-11T08:00:00", "90", "2025-10-11T10:30:00+08:00"),  # naive: the calendar's zone
    ],
)
def test_due_times(start: str, minutes: str, due: str) -> None:
    out = run("--calendar", "office", "--start", start, "--minutes", minutes)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == due


def test_a_configured_calendar_with_extra_days(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "calendars:\n  - key: field\n    hours: {sat: ['09:00-17:00']}\n    holidays: none\n"
        "    extra_holidays: ['2026-12-05']\n",
        encoding="utf-8",
    )
    out = run(
        "--calendar",
        "field",
        "--start",
        "2026-12-04T12:00:00+08:00",
        "--minutes",
        "60",
        config=config,
    )
    assert out.stdout.strip() == "2026-12-12T10:00:00+08:00"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--calendar", "nope", "--start", "2025-09-30T17:00:00+08:00", "--minutes", "1"), "nope"),
        (("--calendar", "office", "--start", "yesterday", "--minutes", "1"), "ISO 8601"),
        (
            ("--calendar", "office", "--start", "2025-09-30T17:00:00+08:00", "--minutes", "-5"),
            "negative",
        ),
    ],
)
def test_bad_input_is_a_clear_error(args: tuple[str, ...], message: str) -> None:
    out = run(*args)
    assert out.returncode == 1
    assert message in out.stderr and "Traceback" not in out.stderr
