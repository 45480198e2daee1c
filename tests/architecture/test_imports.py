"""The import rule of ARCHITECTURE.md section 1: imports point inward.

core/ and cards/ never import bot, webhooks, aiohttp, redis or apscheduler; bot/ never imports
webhooks. The check reads the source with ``ast`` (nothing is imported), so an import hidden in
a function, under ``if TYPE_CHECKING:`` or in ``importlib.import_module("...")`` counts too.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

INNER_FORBIDDEN = frozenset({"bot", "webhooks", "aiohttp", "redis", "apscheduler"})

# (file, top-level module) pairs that may break the rule, each with its reason.
ALLOWED = {
    # RedisCache lives next to the Cache port and MemoryCache so that one contract suite covers
    # both; it imports redis lazily inside RedisCache.__init__, so importing core never loads
    # redis. test_allowed_redis_import_stays_lazy keeps it that way.
    ("core/cache.py", "redis"),
}


@dataclass(frozen=True)
class Found:
    file: str
    line: int
    module: str  # the full dotted name
    top_level: bool  # runs on import (not inside a function body)

    @property
    def root(self) -> str:
        return self.module.split(".")[0]

    def __str__(self) -> str:
        return f"{self.file}:{self.line} imports {self.module}"


def _resolve(path: Path, node: ast.ImportFrom) -> list[str]:
    """The absolute modules a ``from ... import ...`` names."""
    if not node.level:
        return [node.module or ""]
    package = list(path.relative_to(REPO).parts[:-1])  # the package the file belongs to
    base = package[: len(package) - (node.level - 1)]
    if node.module:
        return [".".join([*base, node.module])]
    return [".".join([*base, alias.name]) for alias in node.names]  # from .. import x


def imports_in(source: str, path: Path) -> list[Found]:
    tree = ast.parse(source, filename=str(path))
    name = path.relative_to(REPO).as_posix()
    found: list[Found] = []

    def visit(node: ast.AST, nested: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = nested or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(child, ast.Import):
                found.extend(Found(name, child.lineno, a.name, not nested) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                found.extend(
                    Found(name, child.lineno, m, not nested) for m in _resolve(path, child)
                )
            elif isinstance(child, ast.Call) and _is_dynamic_import(child):
                arg = child.args[0]
                assert isinstance(arg, ast.Constant)
                found.append(Found(name, child.lineno, str(arg.value), not nested))
            visit(child, inner)

    visit(tree, False)
    return found


def _is_dynamic_import(call: ast.Call) -> bool:
    func = call.func
    named = (isinstance(func, ast.Name) and func.id == "__import__") or (
        isinstance(func, ast.Attribute) and func.attr == "import_module"
    )
    return (
        named
        and bool(call.args)
        and isinstance(call.args[0], ast.Constant)
        and isinstance(call.args[0].value, str)
    )


def sources(*packages: str) -> list[Path]:
    files = sorted(p for pkg in packages for p in (REPO / pkg).rglob("*.py"))
    assert files, f"no Python files under {packages}"
    return files


def imports_of(*packages: str) -> list[Found]:
    return [f for p in sources(*packages) for f in imports_in(p.read_text("utf-8"), p)]


def violations(found: list[Found], forbidden: frozenset[str]) -> list[str]:
    return [str(f) for f in found if f.root in forbidden and (f.file, f.root) not in ALLOWED]


def test_core_and_cards_import_no_outer_ring_or_io_library() -> None:
    found = imports_of("core", "cards")
    assert len({f.file for f in found}) >= 10  # the walk really reads the packages
    assert violations(found, INNER_FORBIDDEN) == []


def test_bot_does_not_import_webhooks() -> None:
    found = imports_of("bot")
    assert any(f.root == "core" for f in found)  # bot does use the core: the walk works
    assert violations(found, frozenset({"webhooks"})) == []


def test_allowed_redis_import_stays_lazy() -> None:
    path = REPO / "core" / "cache.py"
    redis = [f for f in imports_in(path.read_text("utf-8"), path) if f.root == "redis"]
    assert redis, "RedisCache no longer imports redis: drop the ALLOWED entry"
    assert all(not f.top_level for f in redis), [str(f) for f in redis]


def test_every_allowed_exception_is_still_needed() -> None:
    found = imports_of("core", "cards")
    used = {(f.file, f.root) for f in found}
    assert ALLOWED <= used


@pytest.mark.parametrize(
    ("source", "module"),
    [
        ("import aiohttp\n", "aiohttp"),
        ("import os, redis.asyncio as r\n", "redis"),
        ("from bot.ports import Target\n", "bot"),
        ("from webhooks import app\n", "webhooks"),
        ("def f():\n    from apscheduler.schedulers import asyncio\n", "apscheduler"),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import bot.inbound\n", "bot"),
        ("import importlib\nimportlib.import_module('webhooks.app')\n", "webhooks"),
        ("__import__('aiohttp')\n", "aiohttp"),
        ("from ... import bot\n", "bot"),  # core/tickets/x.py: "..": the repository root
        ("from ...bot import ports\n", "bot"),
    ],
)
def test_the_checker_catches_every_form(source: str, module: str) -> None:
    path = REPO / "core" / "tickets" / "example.py"
    found = imports_in(source, path)
    assert violations(found, INNER_FORBIDDEN), found
    assert module in {f.root for f in found}


@pytest.mark.parametrize(
    "source",
    [
        "import sqlalchemy\nfrom pydantic import BaseModel\n",
        "from core.tickets import model\nfrom . import workflow\nfrom .model import Ticket\n",
        "import botocore\nimport redisx\n",  # names that only start like a forbidden one
    ],
)
def test_the_checker_lets_inner_imports_pass(source: str) -> None:
    path = REPO / "core" / "tickets" / "example.py"
    assert violations(imports_in(source, path), INNER_FORBIDDEN) == []
