"""The whole service loop in a real browser, on WeCom and on DingTalk, by clicking the sandbox's
real buttons; then the dashboard must draw the journey's figures in its charts."""

from __future__ import annotations

import json
import re
import struct
import urllib.request
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

WAIT = 20
PLATFORM_LABEL = {"wecom": "企业微信", "dingtalk": "钉钉"}


def tiny_png(path: Path) -> Path:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = zlib.compress(b"\x00\xff\x00\x00")  # one red pixel
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")
    )
    return path


class Sandbox:
    def __init__(self, driver: Any, base: str, shots: Path, platform: str) -> None:
        self.d, self.base, self.shots, self.platform = driver, base, shots, platform
        self.step = 0

    def shot(self, name: str) -> None:
        self.step += 1
        self.d.save_screenshot(str(self.shots / f"{self.platform}-{self.step:02d}-{name}.png"))

    def until(self, check: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
        def safe(_: Any) -> Any:
            try:
                return check()
            except (StaleElementReferenceException, WebDriverException):
                return None

        try:
            return WebDriverWait(self.d, timeout, poll_frequency=0.1).until(safe)
        except Exception as exc:
            self.shot("FAILED-" + re.sub(r"\W+", "_", what)[:40])
            raise AssertionError(f"{self.platform}: {what} (screenshots in {self.shots})") from exc

    def xpath(self, path: str) -> list[WebElement]:
        return self.d.find_elements(By.XPATH, path)

    def open(self) -> None:
        self.d.get(self.base + "/")  # the demo's home leads to the sandbox
        self.until(lambda: self.d.current_url.endswith("/sandbox"), "/ redirects to /sandbox")
        self.use_platform(self.platform)

    def use_platform(self, platform: str) -> None:
        button = self.xpath(f"//button[normalize-space()='{PLATFORM_LABEL[platform]}']")[0]
        button.click()
        self.until(lambda: button.get_attribute("aria-pressed") == "true", "platform chosen")

    def as_person(self, name: str) -> None:
        def press() -> bool:  # the list re-renders on every update: find it afresh
            self.xpath(f"//ul[@id='people']//button[contains(., '{name}')]")[0].click()
            return True

        self.until(press, f"pick {name}")
        self.until(lambda: name in self.d.find_element(By.ID, "chat-title").text, f"chat of {name}")

    def say(self, text: str) -> None:
        box = self.d.find_element(By.TAG_NAME, "textarea")
        box.send_keys(text)
        box.send_keys(Keys.ENTER)
        self.until(
            lambda: any(text in m.text for m in self.xpath("//li[contains(@class,'me')]")),
            f"sent {text}",
        )

    def bot_text(self, pattern: str) -> re.Match[str]:
        def find() -> re.Match[str] | None:
            for m in self.xpath("//li[contains(@class,'bot')]"):
                hit = re.search(pattern, m.text)
                if hit:
                    return hit
            return None

        return self.until(find, f"bot says /{pattern}/")

    def reported(self) -> str:
        """The new ticket's ``#n``; when knowledge articles are offered first, 仍需报修."""

        def created() -> str | None:
            for m in self.xpath("//li[contains(@class,'bot')]"):
                if hit := re.search(r"已为您创建工单 (#\d+)", m.text):
                    return hit.group(1)
            still = self.xpath("//li[contains(@class,'bot')]//button[normalize-space()='仍需报修']")
            if still and still[-1].is_enabled():
                still[-1].click()
            return None

        return self.until(created, "ticket created")

    def buttons(self, ref: str, label: str) -> list[WebElement]:
        """The buttons labelled ``label`` on the cards of ticket ``ref`` (enabled or not)."""
        return self.xpath(
            "//li[contains(@class,'bot')]//div[contains(@class,'card')]"
            f"[contains(., '{ref} ') or contains(., '{ref}：') or contains(., '{ref}（')]"
            f"//button[normalize-space()='{label}']"
        )

    def card_button(self, ref: str, label: str) -> WebElement | None:
        found = [b for b in self.buttons(ref, label) if b.is_enabled()]
        return found[-1] if found else None

    def click(self, ref: str, label: str, *, name: str) -> None:
        self.until(lambda: self.card_button(ref, label), f"{label} on the card of {ref}")
        self.shot(f"before-{name}")

        def press() -> bool | None:  # the chat re-renders on every update: find it afresh
            button = self.card_button(ref, label)
            if button is None:
                return None
            button.click()
            return True

        self.until(press, f"press {label} on {ref}")
        # the card is updated in place by chatdesk: the button is gone afterwards
        self.until(lambda: not self.buttons(ref, label), f"card of {ref} finished after {label}")


def dashboard_data(base: str) -> dict[str, Any]:
    with urllib.request.urlopen(base + "/dashboard/data?days=7", timeout=10) as r:
        return json.loads(r.read())


def who_got(
    page: Sandbox, ref: str, label: str, names: tuple[str, ...], platforms: tuple[str, ...]
) -> tuple[str, str]:
    """Which person (on which platform tab) holds the card of ``ref`` with ``label``."""

    def look() -> tuple[str, str] | None:
        for platform in platforms:
            page.use_platform(platform)
            for name in names:
                page.as_person(name)
                if page.card_button(ref, label) is not None:
                    return name, platform
        return None

    return page.until(look, f"someone among {names} gets {label} for {ref}", timeout=WAIT * 2)


@pytest.mark.parametrize("platform", ["wecom", "dingtalk"])
def test_full_journey_then_dashboard(
    browser: Any, demo_server: str, screenshots: Path, tmp_path: Path, platform: str
) -> None:
    page = Sandbox(browser, demo_server, screenshots, platform)
    before = dashboard_data(demo_server)
    page.open()
    page.shot("sandbox")

    page.as_person("刘洋")
    page.say("报修 HX-2000-01 注塑机报警停机")
    ref = page.reported()
    page.shot("reported")

    # HX-2000-01 is in 华东: 张伟 or 王强 gets the assignment card, on this platform
    engineer, _ = who_got(page, ref, "接单", ("张伟", "王强"), (platform,))
    page.click(ref, "接单", name="accept")
    page.say(f"申请备件 {ref} LX-01*1")
    page.bot_text(f"已提交工单 {ref} 的备件申请")

    # the stock keeper, known on both platforms, is reached on the ticket's platform
    who_got(page, ref, "同意", ("赵敏",), (platform,))
    page.click(ref, "同意", name="approve")
    page.as_person(engineer)
    page.bot_text(f"工单 {ref} 的备件申请已由 赵敏 同意")
    page.d.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(
        str(tiny_png(tmp_path / "scene.png"))
    )
    page.until(lambda: page.xpath("//li[contains(@class,'me')]//img"), "photo shown in the chat")
    page.say(f"完工 {ref} 已更换滤芯，试机正常")
    page.shot("done")

    page.as_person("刘洋")
    page.click(ref, "确认完成", name="confirm")
    page.click(ref, "5分", name="rate")

    page.as_person("陈静")
    page.say("统计 本月")
    summary = page.until(
        lambda: page.xpath("//div[contains(@class,'card')][contains(., '服务统计')]"),
        "summary card",
    )
    assert "null" not in summary[-1].text  # a card without buttons renders cleanly
    assert page.d.find_elements(
        By.XPATH, "//div[contains(@class,'card')]//a[contains(@href, '/dashboard?k=')]"
    )
    page.shot("summary")

    after = dashboard_data(demo_server)
    assert after["kpi"]["closed"] == before["kpi"]["closed"] + 1
    assert after["ratings"][4] == before["ratings"][4] + 1
    assert after["kpi"]["created"] == before["kpi"]["created"] + 1

    # the dashboard (linked from the sandbox) draws exactly those figures
    page.d.find_element(By.LINK_TEXT, "管理看板").get_attribute("href").endswith("/dashboard")
    page.d.get(demo_server + "/dashboard?days=7")
    page.xpath("//button[@data-days='7']")[0].click()
    page.until(
        lambda: page.d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1",
        "dashboard drawn",
    )
    charts = page.xpath("//div[contains(@class,'chart')]")
    assert len(charts) == 8
    assert all(c.find_elements(By.TAG_NAME, "canvas") for c in charts)
    assert page.d.find_element(By.ID, "kpi-closed").text == str(after["kpi"]["closed"])
    ratings = page.d.execute_script(
        "return echarts.getInstanceByDom(document.querySelector('[data-chart=ratings]')).getOption().series[0].data"
    )
    assert ratings == after["ratings"]
    ranking = page.d.execute_script(
        "const o = echarts.getInstanceByDom(document.querySelector('[data-chart=engineers]')).getOption();"
        "return [o.yAxis[0].data, o.series[0].data]"
    )
    closed_by = dict(zip(*ranking, strict=True))
    expected = {e["name"]: e["closed"] for e in after["engineers"]}
    assert closed_by == expected and closed_by[engineer] >= 1
    resources = page.d.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert resources and all(r.startswith(demo_server) for r in resources)  # nothing from outside
    page.shot("dashboard")
    csv_link = page.xpath("//a[normalize-space()='导出 CSV']")[0].get_attribute("href")
    with urllib.request.urlopen(csv_link, timeout=10) as r:
        assert r.headers.get_content_type() == "text/csv"
        assert f"\r\n{ref}," in r.read().decode("utf-8")
