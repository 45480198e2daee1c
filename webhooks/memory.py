"""glibc's heap in chatdesk's long-lived processes.

glibc gives each thread that allocates its own heap ("arena", up to eight per core), and a heap
keeps what was freed in it. SQLite connections run in threads (aiosqlite) and the knowledge
index is built in one, so a worker process kept some 8 MB in arenas that the build had freed
(bench/e2e.py, figure 6). Two arenas are enough for threads that mostly wait on the GIL.
Elsewhere than glibc nothing happens.
"""

from __future__ import annotations

import contextlib
import ctypes

M_ARENA_MAX = -8
ARENAS = 2


def limit_arenas(count: int = ARENAS) -> None:
    """Call before any thread starts (a thread's arena, once made, stays)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(ctypes.c_int(M_ARENA_MAX), ctypes.c_int(count))
