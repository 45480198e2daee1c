"""The memory of chatdesk's long-lived processes (serve and its workers): set up in
``webhooks.__main__.main`` before anything else runs.

**glibc's heap** (``limit_arenas``). glibc gives threads that allocate at the same time heaps of their own ("arenas", up to eight
per core), and an arena keeps what was allocated and freed in it. The knowledge index is built
in a thread, and SQLite connections run in threads (aiosqlite) in serve: a worker process kept
some 8 MB in the arenas of those threads, and 15 MB once the build thread had its arena to
itself (bench/e2e.py, figure 6). One arena serves threads that mostly wait on the GIL.
Elsewhere than glibc nothing happens.

**SQLAlchemy's ORM left out** (``engine_without_orm``): chatdesk uses SQLAlchemy Core and its
asyncio engine, whose package imports the whole ORM on the way (8 MB less for the instance).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import importlib.util
import sys
import threading

M_ARENA_MAX = -8
ARENAS = 1


def limit_arenas(count: int = ARENAS) -> None:
    """Call before any thread starts (a thread's arena, once made, stays)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(ctypes.c_int(M_ARENA_MAX), ctypes.c_int(count))


ENGINE_NAMES = (
    "AsyncConnection", "AsyncEngine", "AsyncTransaction", "async_engine_from_config",
    "create_async_engine", "create_async_pool_from_url",
)  # fmt: skip


def engine_without_orm() -> None:
    """Make ``sqlalchemy.ext.asyncio`` give its engine without importing the ORM first.

    The package's ``__init__`` imports its session module, and with it all of
    ``sqlalchemy.orm`` (some 6.5 MB of modules), though chatdesk uses only the engine and its
    connections. Here the package is registered bare, the engine module imported from it, and
    the package's own ``__init__`` runs the first time anything else of it is asked for: a
    name it lacks, or ``AsyncSession`` (then the ORM comes after all). Call before anything
    imports SQLAlchemy's asyncio package; if it was imported already, nothing changes."""
    name = "sqlalchemy.ext.asyncio"
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return
    package = importlib.util.module_from_spec(spec)
    whole = threading.Lock()

    def complete(attr: str) -> object:  # the module's __getattr__: only for names it lacks
        if importlib.util.find_spec(f"{name}.{attr}") is not None:  # a submodule: just it
            return importlib.import_module(f"{name}.{attr}")
        with whole:
            if "AsyncSession" not in package.__dict__:
                spec.loader.exec_module(package)  # the package's __init__, in this module
        try:
            return package.__dict__[attr]
        except KeyError:
            raise AttributeError(f"module {name!r} has no attribute {attr!r}") from None

    package.__getattr__ = complete  # type: ignore[attr-defined]
    sys.modules[name] = package
    try:
        engine = importlib.import_module(f"{name}.engine")
    except Exception:
        del sys.modules[name]  # imported the ordinary way, whole, by whoever asks next
        raise
    for attr in ENGINE_NAMES:
        setattr(package, attr, getattr(engine, attr))
