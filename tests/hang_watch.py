"""A watchdog for stuck teardowns: if a test's teardown runs longer than HANG_AFTER_S, print
every pending asyncio task's stack to stderr (faulthandler only shows the idle event loop)."""

from __future__ import annotations

import asyncio
import gc
import io
import sys
import threading

HANG_AFTER_S = 120.0


def _dump_tasks() -> None:
    for obj in gc.get_objects():
        if isinstance(obj, asyncio.AbstractEventLoop) and obj.is_running():

            def dump(loop: asyncio.AbstractEventLoop = obj) -> None:
                out = io.StringIO()
                print(f"--- teardown still running after {HANG_AFTER_S:.0f} s; tasks:", file=out)
                for task in asyncio.all_tasks(loop):
                    print(task, file=out)
                    task.print_stack(limit=25, file=out)
                sys.stderr.write(out.getvalue())
                sys.stderr.flush()

            obj.call_soon_threadsafe(dump)


def start() -> threading.Timer:
    timer = threading.Timer(HANG_AFTER_S, _dump_tasks)
    timer.daemon = True
    timer.start()
    return timer
