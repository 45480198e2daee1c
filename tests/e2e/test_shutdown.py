"""Shutting down never hangs: a step that never finishes is logged and left behind."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from aiohttp.test_utils import TestClient, TestServer

from webhooks import bootstrap
from webhooks.app import create_app
from webhooks.keys import SERVICES


async def test_a_stuck_closer_does_not_hold_the_shutdown(
    make_settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(bootstrap, "SHUTDOWN_STEP_S", 0.3)
    app = create_app(make_settings(), run_workers=True)
    client = TestClient(TestServer(app))
    await client.start_server()
    services = app[SERVICES]

    async def stuck_forever() -> None:
        await asyncio.Event().wait()

    async def fails() -> None:
        raise RuntimeError("boom")

    services.closers.append(stuck_forever)
    services.closers.append(fails)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger=bootstrap.log.name):
        await client.close()
    assert time.monotonic() - started < 5  # bounded by the step limit, not forever
    messages = " | ".join(r.getMessage() for r in caplog.records)
    assert "stuck_forever did not finish" in messages
    assert "fails failed" in messages
    assert all(loop.task is not None and loop.task.done() for loop in services.loops)
