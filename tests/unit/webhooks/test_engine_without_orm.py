"""webhooks/memory.py engine_without_orm: SQLAlchemy's asyncio engine without the ORM, and the
whole package again the moment anything else of it is asked for. Each case runs in a fresh
interpreter (it is about what a process has imported)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.conftest import REPO_ROOT


def run(code: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.split()


def test_the_engine_works_without_the_orm_and_the_rest_comes_when_asked_for() -> None:
    out = run("""
        import asyncio, sys
        from webhooks.memory import engine_without_orm
        engine_without_orm()
        import webhooks.app, core.db  # what serve imports
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

        async def main():
            engine = create_async_engine("sqlite+aiosqlite://")
            async with engine.connect() as conn:
                print((await conn.execute(text("select 41 + 1"))).scalar())
            await engine.dispose()
            print(isinstance(engine, AsyncEngine))

        asyncio.run(main())
        print("orm" if "sqlalchemy.orm" in sys.modules else "no-orm")
        from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
        import sqlalchemy.ext.asyncio as package
        print("orm" if "sqlalchemy.orm" in sys.modules else "no-orm", AsyncSession.__name__)
        print(package.AsyncEngine is AsyncEngine, callable(async_sessionmaker))
        try:
            package.no_such_name
        except AttributeError:
            print("AttributeError")
    """)
    assert out == ["42", "True", "no-orm", "orm", "AsyncSession", "True", "True", "AttributeError"]


def test_nothing_changes_when_the_package_was_imported_already() -> None:
    out = run("""
        import sqlalchemy.ext.asyncio as before
        from webhooks.memory import engine_without_orm
        engine_without_orm()
        import sys
        print(sys.modules["sqlalchemy.ext.asyncio"] is before, hasattr(before, "AsyncSession"))
    """)
    assert out == ["True", "True"]
