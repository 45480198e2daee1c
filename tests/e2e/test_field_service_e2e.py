"""Field service end to end on WeCom and on DingTalk: scan the machine's code → report on the
mobile page → the engineer's card → 接单 → 到场 → parts → 完工 → the signing page → signed and closed
(the signature in the history) → settlement lines, the statement and 统计 本月."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from openpyxl import load_workbook

from core.clock import FixedClock
from tests.e2e.helpers import eventually, ticket_history
from tests.e2e.platforms import SeenCard, open_chat, people_yaml
from webhooks.qr import qr_png

STAFF = [
    ("zhang", "张伟", "engineer"),
    ("zhao", "赵敏", "stock_keeper"),
    ("chen", "陈静", "manager"),
]
EXTRA = """
  - {id: wang, name: 王强, roles: [engineer], region: 华北}
assets:
  - {id: HX-2000-01, model: HX-2000 注塑机, customer: 宁波华星塑业, region: 华东,
     site_address: 宁波市北仑区 1 号, warranty_end: 2020-01-31}
parts:
  - {sku: LX-01, name: 滤芯, stock: 10, unit_cost: 85.1}
settlement:
  labour_rates: {junior: 133.33, senior: 180}
  travel_fees: {华东: 80}
"""
BASE = "http://127.0.0.1:8080"


def config(platform: str) -> str:
    people = people_yaml(STAFF, platform).replace(
        "name: 张伟, roles: [engineer],",
        "name: 张伟, roles: [engineer], region: 华东, level: junior,",
    )
    return people + EXTRA.lstrip("\n")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime.now(UTC))


@pytest.fixture(params=["wecom", "dingtalk"])
async def chat(request, aiohttp_client, make_settings, clock) -> AsyncIterator[Any]:
    async with open_chat(
        request.param, aiohttp_client, make_settings, config(request.param), clock=clock
    ) as c:
        yield c


def card_with(chat: Any, user: str, button: str) -> list[SeenCard]:
    return [c for c in chat.cards(user) if button in c.buttons]


def local(url: str) -> str:
    assert url.startswith(BASE), url
    return url[len(BASE) :]


async def report_by_scan(chat: Any, auth: dict, phone: str = "138 0013 8000") -> tuple[int, str]:
    """The customer scans HX-2000-01's code and reports; returns (#n, their ticket page)."""
    asset = await (await chat.client.get("/api/v1/assets/HX-2000-01", headers=auth)).json()
    page = await chat.client.get(local(asset["report_url"]))
    html = await page.text()
    assert page.status == 200 and "HX-2000-01" in html and 'name="description"' in html
    form = aiohttp.FormData()
    form.add_field("description", "开机报警 E31，无法合模")
    form.add_field("phone", phone)
    form.add_field("name", "刘洋")
    form.add_field("photos", qr_png("photo"), filename="site.png", content_type="image/png")
    created = await chat.client.post(local(asset["report_url"]), data=form)
    html = await created.text()
    assert created.status == 200, html
    ref = re.search(r"工单 #(\d+)", html)
    link = re.search(r'href="(http://127\.0\.0\.1:8080/p/[^"]+)"', html)
    assert ref and link
    return int(ref.group(1)), local(link.group(1))


async def test_scan_report_sign_and_settle(chat: Any, auth: dict, clock: FixedClock) -> None:
    tid, page = await report_by_scan(chat, auth)
    ticket = await (await chat.client.get(f"/api/v1/tickets/{tid}", headers=auth)).json()
    assert ticket["channel"] == "web" and ticket["asset"] == "HX-2000-01"
    assert ticket["customer"] == "宁波华星塑业"
    assert ticket["fields"]["device"] == "HX-2000-01" and len(ticket["fields"]["photos"]) == 1
    assert ticket["history"][0]["channel"] == "web"
    assert ticket["signature"] is None and ticket["settlement"] is None
    progress = await (await chat.client.get(page)).text()
    assert f"#{tid}" in progress and "宁波华星塑业" in progress

    # the engineer of the asset's region gets the card and accepts
    card = (await eventually(lambda: card_with(chat, "zhang", "接单")))[0]
    assert f"#{tid}" in card.title
    await chat.click("zhang", card, "接单")
    await eventually(lambda: has(chat, tid, "status_changed:accepted"))
    clock.advance(minutes=40)  # on the road: not labour
    await chat.say("zhang", f"到场 #{tid}")
    await eventually(lambda: has(chat, tid, "arrived"))
    clock.advance(minutes=95)  # on site (labour: billed per started 15 minutes → 105 minutes)
    await chat.say("zhang", f"申请备件 #{tid} LX-01*2")
    approval = (await eventually(lambda: card_with(chat, "zhao", "同意")))[0]
    await chat.click("zhao", approval, "同意")
    await eventually(lambda: has(chat, tid, "status_changed:accepted", 2))
    await chat.say("zhang", f"完工 #{tid} 更换滤芯，试机正常")
    await eventually(lambda: has(chat, tid, "status_changed:resolved"))

    # the customer's page now offers the signing link
    progress = await (await chat.client.get(page)).text()
    sign = re.search(r'href="http://127\.0\.0\.1:8080(/s/[A-Za-z0-9_-]+)"', progress)
    assert sign, progress
    signing = await chat.client.get(sign.group(1))
    html = await signing.text()
    assert signing.status == 200 and "<canvas" in html and f"#{tid}" in html
    assert "更换滤芯，试机正常" in html and "LX-01" in html

    png = qr_png("signature")  # any real PNG stands for the drawn signature
    import base64

    data_url = "data:image/png;base64," + base64.b64encode(png).decode()
    signed = await chat.client.post(sign.group(1), data={"signature": data_url, "signer": "刘洋"})
    assert signed.status == 200 and f"#{tid}" in await signed.text()

    ticket = await (await chat.client.get(f"/api/v1/tickets/{tid}", headers=auth)).json()
    assert ticket["status"] == "closed"
    assert ticket["signature"]["signer"] == "刘洋"
    image = await chat.client.get(local(ticket["signature"]["image_url"]), headers=auth)
    assert await image.read() == png
    closing = ticket["history"][-1]
    assert (
        closing["to"] == "closed" and closing["via"] == "signature" and closing["channel"] == "web"
    )
    assert "signed" in await ticket_history(chat.client.app, tid)

    settlement = ticket["settlement"]
    assert [(x["kind"], x["amount"]) for x in settlement["lines"]] == [
        ("labour", "233.33"),  # 1.75 h × 133.33 (张伟 is junior)
        ("parts", "170.20"),  # 2 × 85.10
        ("travel", "80.00"),  # 华东
    ]
    assert settlement["total"] == "483.53" and settlement["customer_pays"] == "483.53"

    # signing again, or with a changed token, changes nothing
    again = await chat.client.post(sign.group(1), data={"signature": data_url, "signer": "x"})
    assert again.status == 409
    forged = sign.group(1)[:-2] + ("AA" if not sign.group(1).endswith("AA") else "BB")
    assert (
        await chat.client.post(forged, data={"signature": data_url, "signer": "x"})
    ).status == 404
    assert (await chat.client.get(sign.group(1))).status == 409
    report = await (await chat.client.get(page)).text()
    assert "服务报告单" in report and "刘洋" in report and "483.53" in report
    assert "data:image/png;base64," in report and "@media print" in report
    assert "到场" in report

    # 查看 #n in chat links the service report
    await chat.say("zhang", f"查看 #{tid}")
    shown = await eventually(lambda: [t for t in chat.texts("zhang") if "服务报告单：" in t])
    assert BASE + page in shown[0]

    # the month's statement and the manager's summary
    month = clock.now().astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    statement = await (
        await chat.client.get(f"/api/v1/settlements?month={month}", headers=auth)
    ).json()
    assert [i["ticket"] for i in statement["items"]] == [f"#{tid}"]
    assert statement["items"][0]["customer"] == "宁波华星塑业"
    assert statement["totals"]["customer_pays"] == "483.53"
    xlsx = await chat.client.get(f"/api/v1/settlements?month={month}&format=xlsx", headers=auth)
    sheet = load_workbook(io.BytesIO(await xlsx.read())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "工单" and rows[1][0] == f"#{tid}" and str(rows[1][9]) == "483.53"
    engineers = await chat.client.get(
        f"/api/v1/settlements/engineers?month={month}&format=csv", headers=auth
    )
    text = (await engineers.read()).decode("utf-8-sig")
    assert engineers.content_type == "text/csv" and "张伟,1,95,233.33,170.20,483.53" in text

    await chat.say("chen", "统计 本月")
    summary = await eventually(lambda: [c for c in chat.cards("chen") if "服务统计" in c.title])
    assert "营收" in summary[0].status_text and "483.53" in summary[0].status_text


async def has(chat: Any, ticket_id: int, entry: str, count: int = 1) -> bool:
    return (await ticket_history(chat.client.app, ticket_id)).count(entry) >= count
