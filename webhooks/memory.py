"""glibc's heap in chatdesk's long-lived processes.

glibc gives threads that allocate at the same time heaps of their own ("arenas", up to eight
per core), and an arena keeps what was allocated and freed in it. The knowledge index is built
in a thread, and SQLite connections run in threads (aiosqlite) in serve: a worker process kept
some 8 MB in the arenas of those threads, and 15 MB once the build thread had its arena to
itself (bench/e2e.py, figure 6). One arena serves threads that mostly wait on the GIL.
Elsewhere than glibc nothing happens.
"""

from __future__ import annotations

import contextlib
import ctypes

M_ARENA_MAX = -8
ARENAS = 1


def limit_arenas(count: int = ARENAS) -> None:
    """Call before any thread starts (a thread's arena, once made, stays)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(ctypes.c_int(M_ARENA_MAX), ctypes.c_int(count))
