"""The asset registry end to end: CSV import through the real command line (all or nothing),
REST with the service history and QR codes, tickets linked to their machine (region from it),
revoking a QR token, and 查看设备 in chat on both platforms."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from core.assets.model import Asset
from core.uow import SqlUnitOfWork
from tests.e2e.helpers import eventually
from tests.e2e.platforms import open_chat, people_yaml
from webhooks.__main__ import main
from webhooks.app import create_app
from webhooks.keys import SERVICES

NOW = datetime.now(UTC)

CSV = (
    "id,model,customer,site_address,region,install_date,warranty_end\n"
    "HX-2000-01,HX-2000 注塑机,宁波华星塑业,宁波市北仑区 1 号,华东,2024-03-01,2099-12-31\n"
    "HX-2000-02,HX-2000 注塑机,杭州远大,杭州市 2 号,华北,,2020-01-31\n"
)
CONFIG = """
people:
  - {id: zhang, name: 张伟, roles: [engineer], region: 华东, skills: [注塑机]}
  - {id: wang, name: 王强, roles: [engineer], region: 华北, skills: [注塑机]}
assets:
  - {id: SEED-01, model: 种子设备, customer: 配置客户, region: 华北}
"""


def _config_file(tmp_path: Path, settings: Any) -> str:
    path = tmp_path / "cli.yaml"
    path.write_text(f"database_url: {settings.database_url}\n", encoding="utf-8")
    return str(path)


@pytest.fixture
async def client(aiohttp_client, make_settings, tmp_path: Path) -> AsyncIterator[TestClient]:
    settings = make_settings(CONFIG)
    good = tmp_path / "assets.csv"
    good.write_text(CSV, encoding="utf-8")
    args = ["assets", "import", str(good), "--config", _config_file(tmp_path, settings)]
    assert await asyncio.to_thread(main, args) == 0  # the real command line
    yield await aiohttp_client(create_app(settings, run_workers=False))


async def test_bad_file_imports_nothing_and_names_line_and_column(
    make_settings, tmp_path: Path, capsys: pytest.CaptureFixture[str], aiohttp_client, auth: dict
) -> None:
    settings = make_settings(CONFIG)
    bad = tmp_path / "bad.csv"
    bad.write_text(CSV + "HX-2000-03,,x,,,,\nHX-2000-04,M,,,,2024-02-30,\n", encoding="utf-8")
    args = ["assets", "import", str(bad), "--config", _config_file(tmp_path, settings)]
    assert await asyncio.to_thread(main, args) == 1
    err = capsys.readouterr().err
    assert "line 4, column model" in err and "line 5, column install_date" in err
    client = await aiohttp_client(create_app(settings, run_workers=False))
    listed = await (await client.get("/api/v1/assets", headers=auth)).json()
    assert [a["id"] for a in listed["items"]] == ["SEED-01"]  # only the config seed


async def test_registry_over_rest_with_history_and_qr(client: TestClient, auth: dict) -> None:
    listed = await (await client.get("/api/v1/assets", headers=auth)).json()
    assert [a["id"] for a in listed["items"]] == ["HX-2000-01", "HX-2000-02", "SEED-01"]
    one = listed["items"][0]
    assert one["customer"] == "宁波华星塑业" and one["warranty_end"] == "2099-12-31"
    assert one["report_url"].startswith("http://127.0.0.1:8080/r/")
    assert len(one["report_url"].rsplit("/", 1)[1]) >= 32  # unguessable

    # a ticket naming the machine in lower case is linked; its region comes from the asset
    created = await client.post(
        "/api/v1/tickets",
        json={"title": "报警", "fields": {"device": "hx-2000-02", "symptom": "E31"}},
        headers=auth,
    )
    ticket = await created.json()
    assert ticket["asset"] == "HX-2000-02" and ticket["fields"]["device"] == "HX-2000-02"
    detail = await (await client.get("/api/v1/tickets/1", headers=auth)).json()
    assert detail["asset"] == "HX-2000-02" and detail["history"][0]["asset"] == "HX-2000-02"

    asset = await (await client.get("/api/v1/assets/HX-2000-02", headers=auth)).json()
    assert [t["ref"] for t in asset["tickets"]] == ["#1"]
    assert asset["tickets"][0]["status"] == "assigned" and asset["total_cost"] == "0.00"
    assert detail["assignee"] == "wang"  # dispatched in the asset's region (华北), not 张伟's
    assert asset["under_warranty"] is False

    svg = await client.get("/api/v1/assets/HX-2000-01/qr.svg", headers=auth)
    assert svg.status == 200 and svg.content_type == "image/svg+xml"
    assert b"<svg" in await svg.read()
    png = await client.get("/api/v1/assets/HX-2000-01/qr.png", headers=auth)
    assert png.content_type == "image/png" and (await png.read()).startswith(b"\x89PNG")
    sheet = await client.get("/api/v1/assets/labels?ids=HX-2000-01,HX-2000-02", headers=auth)
    html = await sheet.text()
    assert sheet.status == 200 and html.count("<svg") == 2 and "HX-2000-02" in html
    assert "size: A4" in html

    exported = await client.get("/api/v1/assets?format=csv", headers=auth)
    assert exported.content_type == "text/csv" and "HX-2000-01" in await exported.text()


async def test_a_registered_number_in_the_description_links_the_ticket(
    client: TestClient, auth: dict
) -> None:
    r = await client.post(
        "/api/v1/tickets",
        json={"title": "HX-2000-01 报警", "type": "consult", "description": "设备HX-2000-01，E31"},
        headers=auth,
    )
    assert (await r.json())["asset"] == "HX-2000-01"
    r = await client.post(
        "/api/v1/tickets", json={"title": "A-99 不认识", "type": "consult"}, headers=auth
    )
    assert (await r.json())["asset"] is None


async def test_errors(client: TestClient, auth: dict) -> None:
    assert (await client.get("/api/v1/assets")).status == 401
    assert (await client.get("/api/v1/assets/NOPE-1", headers=auth)).status == 404
    assert (await client.get("/api/v1/assets/%3Cx%3E", headers=auth)).status == 404
    assert (await client.get("/api/v1/assets?format=pdf", headers=auth)).status == 422
    assert (await client.get("/api/v1/assets/labels?ids=NOPE", headers=auth)).status == 404
    assert (await client.get("/api/v1/assets/labels?ids=%3Cx", headers=auth)).status == 422


STAFF = [("zhang", "张伟", "engineer")]


@pytest.fixture(params=["wecom", "dingtalk"])
async def chat(request, aiohttp_client, make_settings) -> AsyncIterator[Any]:
    config = people_yaml(STAFF, request.param) + (
        "assets:\n  - {id: HX-2000-01, model: HX-2000, customer: 宁波华星塑业, region: 华东,"
        " warranty_end: 2099-12-31}\nassignment: {auto_dispatch: false}\n"
    )
    async with open_chat(request.param, aiohttp_client, make_settings, config) as c:
        yield c


async def test_show_asset_in_chat(chat: Any, auth: dict) -> None:
    await chat.say("zhang", "查看设备 hx-2000-01")
    text = await eventually(lambda: [t for t in chat.texts("zhang") if "HX-2000-01" in t])
    assert "保修期内" in text[0] and "宁波华星塑业" in text[0] and "暂无维修记录" in text[0]

    # a customer's chat report naming the machine links the ticket; the customer may look it up
    await chat.say("kehu9", "报修 HX-2000-01 注塑机报警 E31")
    await eventually(lambda: any("#1" in t for t in chat.texts("kehu9")))
    ticket = await (await chat.client.get("/api/v1/tickets/1", headers=auth)).json()
    assert ticket["asset"] == "HX-2000-01" and ticket["channel"] == chat.platform
    await chat.say("kehu9", "/asset HX-2000-01")
    await eventually(lambda: any("#1" in t and "最近工单" in t for t in chat.texts("kehu9")))
    await chat.say("kehu8", "查看设备 HX-2000-01")  # never reported on it
    await eventually(lambda: any("无法查看" in t for t in chat.texts("kehu8")))
    await chat.say("zhang", "查看设备 NOPE-9")
    await eventually(lambda: any("没有找到设备 NOPE-9" in t for t in chat.texts("zhang")))

    # a machine only in the registry (imported, not in the config list) is known to the dialog
    async with SqlUnitOfWork(chat.client.app[SERVICES].engine) as uow:
        await uow.assets.upsert(Asset(id="NB-77-3", model="空压机", region="华东"), at=NOW)
        await uow.commit()
    await chat.say("kehu7", "报修 NB-77-3 漏油")
    await eventually(lambda: any("#2" in t for t in chat.texts("kehu7")))
    ticket = await (await chat.client.get("/api/v1/tickets/2", headers=auth)).json()
    assert ticket["asset"] == "NB-77-3" and ticket["fields"]["device"] == "NB-77-3"
