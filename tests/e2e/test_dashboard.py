"""/dashboard outside the demo: who may open it (API token, the bot's short-lived link, a
session), what it answers, and the CSV export."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient

from core.clock import FixedClock
from tests.conftest import API_TOKEN
from webhooks.app import create_app
from webhooks.bootstrap import action_secret
from webhooks.dashboard import access
from webhooks.keys import SETTINGS

CONFIG = """
people:
  - {id: chen, name: 陈静, roles: [manager]}
  - {id: zhang, name: 张伟, roles: [engineer]}
"""
NOW = datetime(2026, 6, 11, 7, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
async def client(aiohttp_client, make_settings, clock) -> TestClient:  # type: ignore[no-untyped-def]
    app = create_app(make_settings(CONFIG), clock=clock, run_workers=False)
    return await aiohttp_client(app)


def link_token(client: TestClient, person: str, at: datetime = NOW) -> str:
    secret = action_secret(client.app[SETTINGS])
    url = access.dashboard_link(secret, "http://x", person, now=at)
    return url.split("?k=", 1)[1]


async def test_without_credentials_the_sign_in_page_answers(client: TestClient) -> None:
    r = await client.get("/dashboard")
    assert r.status == 401 and "API 令牌" in await r.text()
    for path in ("/dashboard/data", "/dashboard/tickets.csv"):
        assert (await client.get(path)).status == 401
    # the static files carry no data and load without a session
    assert (await client.get("/dashboard/static/echarts.min.js")).status == 200
    assert (await client.get("/dashboard/static/../routes.py")).status == 404


async def test_api_token_as_bearer_and_through_the_form(client: TestClient, auth: dict) -> None:
    r = await client.get("/dashboard/data?days=7", headers=auth)
    assert r.status == 200 and (await r.json())["period"]["days"] == 7
    r = await client.post("/dashboard/login", data={"token": "wrong"}, allow_redirects=False)
    assert r.status == 401 and "令牌无效" in await r.text()
    r = await client.post("/dashboard/login", data={"token": API_TOKEN}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/dashboard"
    cookie = r.cookies[access.COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    page = await client.get("/dashboard")  # the cookie jar carries the session now
    html = await page.text()
    assert page.status == 200 and "导出 CSV" in html and "echarts.min.js" in html
    assert "http://" not in html.replace("http://www.w3.org", "")  # nothing loads from outside


async def test_the_managers_link_opens_a_session_and_expires(
    client: TestClient, clock: FixedClock
) -> None:
    r = await client.get(f"/dashboard?k={link_token(client, 'chen')}", allow_redirects=False)
    assert r.status == 303 and access.COOKIE in r.cookies
    assert (await client.get("/dashboard/data")).status == 200
    client.session.cookie_jar.clear()
    old = link_token(client, "chen", at=NOW - access.LINK_TTL - timedelta(seconds=1))
    assert (await client.get(f"/dashboard?k={old}", allow_redirects=False)).status == 403
    not_manager = link_token(client, "zhang")
    assert (await client.get(f"/dashboard?k={not_manager}", allow_redirects=False)).status == 403
    forged = link_token(client, "chen")[:-2] + "00"
    assert (await client.get(f"/dashboard?k={forged}", allow_redirects=False)).status == 403
    assert (await client.get("/dashboard?k=%F0%9F%98%80", allow_redirects=False)).status == 403
    # a session outlives the link, not SESSION_TTL
    await client.get(f"/dashboard?k={link_token(client, 'chen')}", allow_redirects=False)
    clock.advance(seconds=(access.SESSION_TTL + timedelta(minutes=1)).total_seconds())
    assert (await client.get("/dashboard/data")).status == 401


async def test_csv_export(client: TestClient, auth: dict) -> None:
    created = await client.post(
        "/api/v1/tickets",
        json={"title": "=cmd|' /C calc'!A0", "fields": {"device": "HX-1", "symptom": "报警"}},
        headers=auth,
    )
    assert created.status == 201, await created.text()
    r = await client.get("/dashboard/tickets.csv?days=30", headers=auth)
    assert r.status == 200 and r.content_type == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    body = (await r.read()).decode("utf-8")
    assert body.startswith("\ufeff编号,标题")  # BOM: Excel opens it as UTF-8
    assert "\r\n#1,'=cmd" in body  # a formula from a customer is kept as text


async def test_bad_period_is_422(client: TestClient, auth: dict) -> None:
    for bad in ("8", "²", "-1", "999999999999999999999"):
        r = await client.get(f"/dashboard/data?days={bad}", headers=auth)
        assert r.status == 422
