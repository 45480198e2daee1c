"""A real `chatdesk serve` in demo mode and a headless Chromium driven by Selenium.

The browser is Debian's ``chromium`` with ``chromium-driver`` (nothing is downloaded). When it
is missing the tests FAIL and say how to install it; they are never skipped (to leave them out
of a local run, say so on the command line: ``pytest --ignore=tests/browser``). Screenshots of every step go to
``$CHATDESK_SCREENSHOTS`` (default ``var/screenshots``) so a failing run can be inspected.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.serve import free_port, serve

INSTALL = "apt-get install -y chromium chromium-driver   (Debian/Ubuntu; CI does this in .ci/run)"
ROOT = Path(__file__).resolve().parents[2]


def _browser_paths() -> tuple[str, str]:
    browser = os.environ.get("CHATDESK_CHROMIUM") or shutil.which("chromium") or ""
    driver = os.environ.get("CHATDESK_CHROMEDRIVER") or shutil.which("chromedriver") or ""
    return tuple(p if p and Path(p).is_file() else "" for p in (browser, driver))  # type: ignore[return-value]


@pytest.fixture(scope="session")
def screenshots() -> Path:
    path = Path(os.environ.get("CHATDESK_SCREENSHOTS", ROOT / "var" / "screenshots"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    chromium, chromedriver = _browser_paths()
    if not chromium or not chromedriver:
        pytest.fail(
            f"Chromium or chromedriver not found; install them with: {INSTALL}", pytrace=False
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    profile = tempfile.mkdtemp(prefix="chatdesk-chromium-")
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1280,900",
        "--lang=zh-CN",
    ):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    driver.implicitly_wait(0)
    driver.set_page_load_timeout(30)  # a stuck page fails the test instead of hanging the run
    driver.set_script_timeout(15)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`chatdesk serve` with nothing configured but the port: the sandbox and demo workspace."""
    work = tmp_path_factory.mktemp("demo")
    port = free_port()
    config = {
        "http": {"host": "127.0.0.1", "port": port, "public_base_url": f"http://127.0.0.1:{port}"},
        "sandbox_database_url": f"sqlite+aiosqlite:///{work / 'demo.db'}",
        "sandbox_media_dir": str(work / "media"),
        "workers": {"inbox_poll_s": 0.1, "outbox_poll_s": 0.1},
    }
    with serve(config, work, "serve", migrate=True, cwd=work) as server:
        yield server.url
