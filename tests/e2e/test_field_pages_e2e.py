"""The public pages refuse what they must: another customer's ticket, revoked or made-up tokens,
bad form input, floods (per address and per phone), and no login anywhere else."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from core import db
from tests.e2e.helpers import eventually, ticket_history
from tests.e2e.platforms import open_chat, people_yaml
from webhooks.app import create_app
from webhooks.keys import SERVICES
from webhooks.qr import qr_png

CONFIG = """
people:
  - {id: zhang, name: 张伟, roles: [engineer], region: 华东}
assets:
  - {id: HX-2000-01, model: HX-2000, customer: 宁波华星塑业, region: 华东}
web_forms: {per_address_per_hour: 6, per_phone_per_hour: 2}
"""
BASE = "http://127.0.0.1:8080"


@pytest.fixture
async def client(aiohttp_client, make_settings) -> TestClient:
    return await aiohttp_client(create_app(make_settings(CONFIG), run_workers=False))


async def report_path(client: TestClient, auth: dict) -> str:
    asset = await (await client.get("/api/v1/assets/HX-2000-01", headers=auth)).json()
    return asset["report_url"][len(BASE) :]


async def test_form_errors_are_4xx_and_create_nothing(client: TestClient, auth: dict) -> None:
    path = await report_path(client, auth)
    r = await client.post(path, data={"description": "", "phone": "12345"})
    html = await r.text()
    assert r.status == 422 and "请描述故障现象" in html and "手机号" in html
    form = aiohttp.FormData()
    form.add_field("description", "坏了")
    form.add_field("phone", "13800138000")
    form.add_field("photos", b"MZ\x90\x00 not an image", filename="x.exe")
    r = await client.post(path, data=form)
    assert r.status == 422 and "只能上传照片" in await r.text()
    listed = await (await client.get("/api/v1/tickets?count=true", headers=auth)).json()
    assert listed["total"] == 0
    assert (await client.get("/r/short")).status == 404
    assert (await client.get("/r/" + "x" * 40)).status == 404
    assert (await client.post("/r/" + "x" * 40, data={"description": "a"})).status == 404


async def test_plain_form_without_asset(client: TestClient, auth: dict) -> None:
    page = await client.get("/r")
    assert page.status == 200 and 'name="device"' in await page.text()
    r = await client.post("/r", data={"description": "空压机漏油", "phone": "+86 139-0013-9000"})
    assert r.status == 200 and "#1" in await r.text()
    ticket = await (await client.get("/api/v1/tickets/1", headers=auth)).json()
    assert ticket["channel"] == "web" and ticket["asset"] is None and ticket["type"] == "consult"
    r = await client.post(
        "/r", data={"description": "报警", "phone": "13900139001", "device": "hx-2000-01"}
    )
    ticket = await (await client.get("/api/v1/tickets/2", headers=auth)).json()
    assert ticket["asset"] == "HX-2000-01" and ticket["type"] == "repair"


async def test_rate_limits_per_phone_and_per_address(client: TestClient) -> None:
    for i in range(2):
        r = await client.post("/r", data={"description": f"第{i}次", "phone": "13800138000"})
        assert r.status == 200
    r = await client.post("/r", data={"description": "第三次", "phone": "13800138000"})
    assert r.status == 429  # per phone: 2 an hour
    for i in range(3):  # other phones, same address: 6 posts an hour in all
        r = await client.post("/r", data={"description": "x", "phone": f"1370013700{i}"})
        assert r.status == 200
    r = await client.post("/r", data={"description": "x", "phone": "13600136000"})
    assert r.status == 429 and "太频繁" in await r.text()
    services = client.app[SERVICES]
    async with services.engine.connect() as conn:
        count = len((await conn.execute(select(db.tickets.c.id))).all())
    assert count == 5


async def test_revoked_code_opens_nothing(client: TestClient, auth: dict) -> None:
    old = await report_path(client, auth)
    revoked = await client.post("/api/v1/assets/HX-2000-01/token/revoke", headers=auth)
    new = (await revoked.json())["report_url"][len(BASE) :]
    assert new != old
    assert (await client.get(old)).status == 404
    r = await client.post(old, data={"description": "x", "phone": "13800138000"})
    assert r.status == 404 and "二维码已失效" in await r.text()
    assert (await client.get(new)).status == 200
    assert (await client.post("/api/v1/assets/HX-2000-01/token/revoke")).status == 401


@pytest.fixture
async def chat(aiohttp_client, make_settings) -> AsyncIterator[Any]:
    config = people_yaml([("zhang", "张伟", "engineer")], "wecom")
    async with open_chat("wecom", aiohttp_client, make_settings, config) as c:
        yield c


async def _resolved(chat: Any, phone: str) -> tuple[int, str, str]:
    """A web report by ``phone`` that 张伟 accepted and finished: (#n, page path, sign path)."""
    r = await chat.client.post("/r", data={"description": "报警", "phone": phone})
    html = await r.text()
    tid = int(re.search(r"工单 #(\d+)", html).group(1))
    page = re.search(r'href="http://127\.0\.0\.1:8080(/p/[^"]+)"', html).group(1)
    await chat.say("zhang", f"接单 #{tid}")
    await eventually(lambda: has(chat, tid, "status_changed:accepted"))
    await chat.say("zhang", f"完工 #{tid} 已修好")
    await eventually(lambda: has(chat, tid, "status_changed:resolved"))
    async with chat.client.app[SERVICES].engine.connect() as conn:
        token = (
            await conn.execute(select(db.signoffs.c.token).where(db.signoffs.c.ticket_id == tid))
        ).scalar_one()
    return tid, page, f"/s/{token}"


async def has(chat: Any, tid: int, entry: str) -> bool:
    return entry in await ticket_history(chat.client.app, tid)


async def test_report_page_and_signing_link_refuse_another_customers_ticket(
    chat: Any, auth: dict
) -> None:
    a, page_a, sign_a = await _resolved(chat, "13800138001")
    b, _page_b, sign_b = await _resolved(chat, "13800138002")
    assert (await chat.client.get(page_a)).status == 200
    # customer A's link with B's number: refused, nothing of B shown
    mac_a = page_a.rsplit(".", 1)[1]
    swapped = await chat.client.get(f"/p/{b}.{mac_a}")
    assert swapped.status == 404 and "13800138002" not in await swapped.text()
    assert (await chat.client.get(f"/p/{b}")).status == 404
    # A's signing link signs A only
    png = "data:image/png;base64," + __import__("base64").b64encode(qr_png("sig")).decode()
    r = await chat.client.post(sign_a, data={"signature": png, "signer": "甲"})
    assert r.status == 200
    one = await (await chat.client.get(f"/api/v1/tickets/{a}", headers=auth)).json()
    other = await (await chat.client.get(f"/api/v1/tickets/{b}", headers=auth)).json()
    assert one["status"] == "closed" and other["status"] == "resolved"
    assert other["signature"] is None
    # bad signatures are refused and change nothing
    for bad in ({"signature": "data:image/png;base64,!!!", "signer": "乙"},
                {"signature": "data:image/jpeg;base64,AAAA", "signer": "乙"},
                {"signer": "乙"},
                {"signature": png, "signer": "  "}):  # fmt: skip
        r = await chat.client.post(sign_b, data=bad)
        assert r.status == 422, bad
    other = await (await chat.client.get(f"/api/v1/tickets/{b}", headers=auth)).json()
    assert other["status"] == "resolved"
    # the service report over REST needs the API token
    assert (await chat.client.get(f"/api/v1/tickets/{a}/report")).status == 401
    report = await chat.client.get(f"/api/v1/tickets/{a}/report", headers=auth)
    assert report.status == 200 and "服务报告单" in await report.text()
    pdf = await chat.client.get(f"/api/v1/tickets/{a}/report.pdf", headers=auth)
    assert pdf.content_type == "application/pdf" and (await pdf.read()).startswith(b"%PDF")
    mine = await chat.client.get(f"{page_a}/pdf")
    assert mine.status == 200 and (await mine.read()).startswith(b"%PDF")
    assert (await chat.client.get(f"/p/{b}.{mac_a}/pdf")).status == 404


async def test_settlement_queries_are_checked(client: TestClient, auth: dict) -> None:
    assert (await client.get("/api/v1/settlements?month=2026-11")).status == 401
    for query in ("", "month=2026-13", "month=11-2026", "month=2026-11&format=pdf"):
        r = await client.get(f"/api/v1/settlements?{query}", headers=auth)
        assert r.status == 422, query
    r = await client.get("/api/v1/settlements/engineers?month=2026-1", headers=auth)
    assert r.status == 422
    empty = await (await client.get("/api/v1/settlements?month=2026-11", headers=auth)).json()
    assert empty["items"] == [] and empty["totals"]["total"] == "0.00"
    csv = await client.get("/api/v1/settlements?month=2026-11&format=csv", headers=auth)
    assert csv.content_type == "text/csv" and (await csv.read()).decode("utf-8-sig").startswith(
        "工单,"
    )
    assert (await client.get("/api/v1/tickets/99/report", headers=auth)).status == 404
    assert (await client.get("/api/v1/tickets/1/signature.png", headers=auth)).status == 404


async def test_dashboard_links_statements_and_reports(client: TestClient, auth: dict) -> None:
    assert (await client.get("/dashboard/settlements?month=2026-11&format=csv")).status == 401
    assert (await client.get("/dashboard/report?ticket=1")).status == 401
    page = await (await client.get("/dashboard", headers=auth)).text()
    assert 'action="/dashboard/settlements"' in page and 'action="/dashboard/report"' in page
    r = await client.get("/dashboard/settlements?month=2026-11&format=xlsx", headers=auth)
    assert r.status == 200 and (await r.read()).startswith(b"PK")  # a zip: the XLSX
    r = await client.get(
        "/dashboard/settlements?month=2026-11&format=csv&view=engineers", headers=auth
    )
    assert (await r.read()).decode("utf-8-sig").startswith("工程师,")
    bad = await client.get("/dashboard/settlements?month=2026-13&format=csv", headers=auth)
    assert bad.status == 422
    assert (await client.get("/dashboard/report?ticket=abc", headers=auth)).status == 422
    assert (await client.get("/dashboard/report?ticket=99", headers=auth)).status == 404
    await client.post("/r", data={"description": "漏油", "phone": "13800138000"})
    r = await client.get("/dashboard/report?ticket=%231", headers=auth)
    assert r.status == 200 and "#1" in await r.text()
    assert (await client.get("/dashboard/labels")).status == 401
    sheet = await (await client.get("/dashboard/labels?ids=HX-2000-01", headers=auth)).text()
    assert sheet.count("<svg") == 1 and "HX-2000-01" in sheet


async def test_closed_by_staff_is_settled_too(client: TestClient, auth: dict) -> None:
    await client.post("/r", data={"description": "咨询保养", "phone": "13800138000"})
    for status in ("accepted", "resolved", "closed"):  # dispatched to 张伟 at once
        r = await client.post(
            "/api/v1/tickets/1/status", json={"status": status, "note": "电话解决"}, headers=auth
        )
        assert r.status == 200
    ticket = await (await client.get("/api/v1/tickets/1", headers=auth)).json()
    settlement = ticket["settlement"]
    assert ticket["status"] == "closed" and settlement is not None
    assert [x["kind"] for x in settlement["lines"]] == ["labour"]  # no engineer time: minimum
    assert settlement["total"] == settlement["customer_pays"] == "90.00"  # 30 min at 180/h
