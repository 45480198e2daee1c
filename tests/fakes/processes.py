"""Processes seen through Linux's /proc: whether one still runs, what it runs, and what it
started. Shared by the tests that start `chatdesk serve` and by bench/ (which measures the
worker processes serve starts)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

PROC = Path("/proc")


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name: state, parent pid, …"""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text.rpartition(")")[2].split()  # the name in parentheses may hold spaces


def alive(pid: int) -> bool:
    """``pid`` exists and is not a zombie waiting to be reaped."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def command_line(pid: int) -> str:
    """The process's arguments joined by spaces ("" once it is gone)."""
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def name(pid: int) -> str:
    """The process's name (``/proc/<pid>/comm``, what ps and top show; "" once it is gone)."""
    try:
        return (PROC / str(pid) / "comm").read_text().strip()
    except OSError:
        return ""


def shared_dirty_mb(pid: int) -> float:
    """Memory the process wrote or inherited written and still shares with another process
    (anonymous pages kept in common after a fork), MB; 0 once it is gone."""
    try:
        text = (PROC / str(pid) / "smaps_rollup").read_text()
    except OSError:
        return 0.0
    kb = [int(line.split()[1]) for line in text.splitlines() if line.startswith("Shared_Dirty:")]
    return sum(kb) / 1024


def maps_file(pid: int, part: str) -> bool:
    """The process has a file whose path holds ``part`` mapped (a library it loaded)."""
    try:
        return part in (PROC / str(pid) / "maps").read_text()
    except OSError:
        return False


def _live() -> Iterator[tuple[int, list[str]]]:
    """Every live (not zombie) process: its pid and its stat fields."""
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and fields[0] != "Z":
                yield int(entry.name), fields


def group(pgid: int) -> list[int]:
    """Live members of the process group ``pgid`` (a session leader's pid), its leader too."""
    return [pid for pid, fields in _live() if int(fields[2]) == pgid]


def children(pid: int, *, depth: int = 1) -> list[int]:
    """Live (not zombie) descendants of ``pid`` down to ``depth`` generations, nearest first."""
    parents: dict[int, list[int]] = {}
    for child, fields in _live():
        parents.setdefault(int(fields[1]), []).append(child)
    found: list[int] = []
    level = [pid]
    for _ in range(depth):
        level = [child for parent in level for child in parents.get(parent, [])]
        found += level
    return found
