"""Scan to report and the signature pad in a real browser: the mobile report form, the
engineer's 接单 and 完工 in the sandbox, then the customer signs on the <canvas> with the mouse
and the service report shows the drawn signature."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from tests.browser.test_sandbox_journey import Sandbox, who_got

PHONE = (412, 900)  # a phone's viewport
DESK = (1280, 900)  # the sandbox's


def _until(check: Any, what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except (NoSuchElementException, StaleElementReferenceException):
            value = None  # the page is being replaced by the next one: look again
        except WebDriverException as exc:  # Chromium's word for the same, mid-navigation
            if "does not belong to the document" not in str(exc):
                raise
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(what)


def _heading(d: Any, text: str) -> str | None:
    """The page's first heading if it contains ``text`` (None while another page is shown)."""
    headings = d.find_elements(By.TAG_NAME, "h1")
    return headings[0].text if headings and text in headings[0].text else None


def test_scan_report_then_sign_on_the_canvas(
    browser: Any, demo_server: str, screenshots: Path
) -> None:
    d = browser
    d.set_window_size(*PHONE)
    d.get(demo_server + "/r")
    d.find_element(By.ID, "device").send_keys("HX-2000-01")
    d.find_element(By.ID, "description").send_keys("开机报警 E31，无法合模")
    d.find_element(By.ID, "phone").send_keys("138 0013 8000")
    d.find_element(By.ID, "name").send_keys("刘洋")
    d.save_screenshot(str(screenshots / "field-01-report-form.png"))
    d.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    heading = _until(lambda: _heading(d, "报修成功"), "answer page naming the ticket")
    ref = re.search(r"#\d+", heading).group(0)
    progress = d.find_element(By.LINK_TEXT, "查看工单进度").get_attribute("href")
    assert "/p/" in progress

    # the engineer of 华东 accepts and finishes in the sandbox
    d.set_window_size(*DESK)
    page = Sandbox(d, demo_server, screenshots, "wecom")
    page.open()
    # a web report has no chat platform: the engineer is reached where the desk reaches him
    engineer, _platform = who_got(page, ref, "接单", ("张伟", "王强"), ("wecom", "dingtalk"))
    page.click(ref, "接单", name="field-accept")
    page.say(f"完工 {ref} 更换滤芯，试机正常")

    # the customer's page offers the signing link
    d.set_window_size(*PHONE)

    def sign_link() -> Any:
        d.get(progress)
        return d.find_elements(By.LINK_TEXT, "去签字确认")

    _until(sign_link, "signing link on the customer's page")[0].click()
    # wait for the signing page itself, not a pad or heading of the page being left
    _until(lambda: "/s/" in d.current_url and d.find_elements(By.ID, "pad"), "signing page")
    assert _until(lambda: _heading(d, ref), "signing page heading naming the ticket")
    assert "更换滤芯，试机正常" in d.find_element(By.TAG_NAME, "body").text
    d.find_element(By.ID, "signer").send_keys("刘洋")
    d.find_element(By.CSS_SELECTOR, "#signform button[type=submit]").click()
    assert d.find_element(By.ID, "sigerror").is_displayed()  # nothing drawn: not sent
    assert d.find_elements(By.ID, "pad")

    pad = d.find_element(By.ID, "pad")
    (
        ActionChains(d)
        .move_to_element_with_offset(pad, -120, 10)
        .click_and_hold()
        .move_by_offset(40, -30)
        .move_by_offset(40, 40)
        .move_by_offset(60, -20)
        .release()
        .perform()
    )
    inked = d.execute_script(
        "const c=document.getElementById('pad');"
        "const p=c.getContext('2d').getImageData(0,0,c.width,c.height).data;"
        "let n=0; for (let i=3;i<p.length;i+=4) if (p[i]) n++; return n;"
    )
    assert inked > 50  # the strokes are on the canvas
    d.save_screenshot(str(screenshots / "field-02-signed-pad.png"))
    d.find_element(By.CSS_SELECTOR, "#signform button[type=submit]").click()
    _until(lambda: _heading(d, "签字成功"), "signed")

    d.find_element(By.LINK_TEXT, "查看服务报告单").click()
    image = _until(lambda: d.find_elements(By.CSS_SELECTOR, "img.signature"), "signature shown")
    width = d.execute_script("return arguments[0].naturalWidth", image[0])
    assert width > 0
    body = d.find_element(By.TAG_NAME, "body").text
    assert "服务报告单" in body and "刘洋" in body and engineer in body
    d.save_screenshot(str(screenshots / "field-03-service-report.png"))
    d.set_window_size(*DESK)
