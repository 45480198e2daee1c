"""The project is self-contained: nothing reads the sibling ``shared/`` folder.

The design notes and reference material beside the checkout are for people; the code and the
tests must work on a clone that has no ``../shared`` (the vectors the tests need are copied into
``tests/fixtures/``). Two guards: this scan of every project file, and an audit hook in
``tests/conftest.py`` that makes any attempt to open a file there fail the test that made it.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FOLDERS = ("core", "cards", "bot", "webhooks", "migrations", "tests", "bench", ".ci")
FILES = ("Makefile", "Dockerfile", "docker-compose.yml", "pyproject.toml", "alembic.ini")
# ../shared, /work/shared, a "shared" path part, or shared/reference|design|data|vectors
READS_SHARED = re.compile(
    r"""\.\./shared\b|/work/shared\b|["']shared["']|\bshared/(?:reference|design|data|vectors)"""
)


def project_files() -> list[Path]:
    found = [REPO / name for name in FILES if (REPO / name).is_file()]
    for folder in FOLDERS:
        found += [
            p
            for p in (REPO / folder).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".db")
        ]
    return found


def test_no_project_file_refers_to_the_shared_folder() -> None:
    me = Path(__file__).resolve()
    offenders = []
    for path in project_files():
        if path.resolve() == me:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for n, line in enumerate(text.splitlines(), 1):
            if READS_SHARED.search(line) and "# shared-guard:" not in line:
                offenders.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert offenders == [], "copy what is needed into tests/fixtures/:\n" + "\n".join(offenders)


def test_the_guard_sees_each_way_of_naming_the_folder() -> None:
    for line in (
        'Path("../shared/reference/vectors/wecom.json")',
        "REPO.parent / 'shared' / 'reference'",
        'open("/work/shared/data/x.json")',
        "root / 'shared/reference/vectors/dingtalk.json'",
    ):
        assert READS_SHARED.search(line), line
    assert not READS_SHARED.search("the envelope shared with WeCom")


def test_opening_a_file_in_the_sibling_shared_folder_fails() -> None:
    """The conftest audit hook turns any open() there into an error (even if it exists)."""
    target = REPO.parent / "shared" / "reference" / "vectors" / "wecom.json"
    try:
        target.read_bytes()
    except PermissionError as exc:
        assert "tests/fixtures" in str(exc)
    else:
        raise AssertionError("a test could read the sibling shared/ folder")
