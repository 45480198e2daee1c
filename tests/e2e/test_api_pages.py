"""GET /api/v1/tickets, /kb/articles and /assets page by keyset cursor through the real app:
every row exactly once, in order, filters kept; a total (a count query) only when asked; a bad
cursor is a clear 400, a bad limit or flag a 422 naming the field."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import event

from webhooks.app import create_app
from webhooks.keys import SERVICES

CONFIG = """
people:
  - {id: zhang, name: 张伟, roles: [engineer], wecom_userid: zhangwei}
assignment: {auto_dispatch: false}
assets:
  - {id: M-03, model: 空压机}
  - {id: m-05, model: 空压机}
  - {id: M-01, model: 注塑机}
  - {id: M-04, model: 空压机}
  - {id: M-02, model: 注塑机}
"""
ASSETS = ["M-01", "M-02", "M-03", "M-04", "m-05"]  # by upper-cased id


@pytest.fixture
async def client(aiohttp_client, make_settings) -> TestClient:
    return await aiohttp_client(create_app(make_settings(CONFIG), run_workers=False))


async def _open(client: TestClient, auth: dict, n: int) -> None:
    for i in range(n):
        r = await client.post(
            "/api/v1/tickets", json={"title": f"咨询 {i}", "type": "consult"}, headers=auth
        )
        assert r.status == 201


async def _pages(
    client: TestClient, auth: dict, query: str, path: str = "/api/v1/tickets"
) -> list[list[Any]]:
    """The ids of every page from the first to the one without a next_cursor."""
    pages: list[list[Any]] = []
    url = f"{path}?{query}"
    for _ in range(20):  # bounded: far more pages than the tests make
        r = await client.get(url, headers=auth)
        assert r.status == 200
        body = await r.json()
        assert "total" not in body  # no count unless asked
        pages.append([t["id"] for t in body["items"]])
        if body["next_cursor"] is None:
            return pages
        url = f"{path}?{query}&cursor={body['next_cursor']}"
    raise AssertionError("the cursor never reached the last page")


async def test_cursor_walks_every_ticket_once_newest_first(client: TestClient, auth: dict) -> None:
    await _open(client, auth, 7)
    assert await _pages(client, auth, "limit=3") == [[7, 6, 5], [4, 3, 2], [1]]
    assert await _pages(client, auth, "limit=7") == [[7, 6, 5, 4, 3, 2, 1]]
    counted = await (await client.get("/api/v1/tickets?limit=2&count=true", headers=auth)).json()
    assert counted["total"] == 7 and len(counted["items"]) == 2
    assert counted["next_cursor"] is not None


async def test_cursor_keeps_the_filters_and_new_tickets_do_not_shift_pages(
    client: TestClient, auth: dict
) -> None:
    await _open(client, auth, 6)
    for number in (2, 4, 5):
        r = await client.post(
            f"/api/v1/tickets/{number}/assign", json={"assignee": "zhang"}, headers=auth
        )
        assert r.status == 200
    first = await (await client.get("/api/v1/tickets?status=assigned&limit=2", headers=auth)).json()
    assert [t["id"] for t in first["items"]] == [5, 4]
    await _open(client, auth, 2)  # newer tickets arrive between the pages
    r = await client.get(
        f"/api/v1/tickets?status=assigned&limit=2&cursor={first['next_cursor']}", headers=auth
    )
    rest = await r.json()
    assert [t["id"] for t in rest["items"]] == [2] and rest["next_cursor"] is None
    everyone = await client.get("/api/v1/tickets?assignee=zhang&count=1", headers=auth)
    assert (await everyone.json())["total"] == 3


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    ["", "!!!", "not-a-cursor", _b64("t0"), _b64("tx"), _b64("a5"), _b64("t-5"), _b64("t5") + "=",
     _b64("t" + "9" * 20), "%E5%B7%A5"],
)  # fmt: skip
async def test_a_bad_cursor_is_a_clear_400(client: TestClient, auth: dict, cursor: str) -> None:
    await _open(client, auth, 1)
    r = await client.get(f"/api/v1/tickets?cursor={cursor}", headers=auth)
    assert r.status == 400
    [error] = (await r.json())["errors"]
    assert error["field"] == "cursor" and error["message"].startswith("无效的分页游标")


async def test_bad_count_flag_names_the_field(client: TestClient, auth: dict) -> None:
    r = await client.get("/api/v1/tickets?count=maybe", headers=auth)
    assert r.status == 422
    assert [e["field"] for e in (await r.json())["errors"]] == ["count"]


async def test_openapi_documents_the_cursor(client: TestClient) -> None:
    doc = await (await client.get("/api/v1/openapi.json")).json()
    listing = doc["paths"]["/api/v1/tickets"]["get"]
    assert {"cursor", "count", "limit"} <= {p["name"] for p in listing["parameters"]}
    assert "400" in listing["responses"]
    schema = doc["components"]["schemas"]["TicketList"]
    assert "next_cursor" in schema["required"] and "total" not in schema["required"]


async def test_knowledge_articles_page_by_cursor(client: TestClient, auth: dict) -> None:
    for i in range(5):
        article = {"id": f"KB-{i}", "title": f"故障 {i}", "body": "处理方法", "status": "published"}
        assert (await client.post("/api/v1/kb/articles", json=article, headers=auth)).status == 201
    seen: list[list[str]] = []
    url = "/api/v1/kb/articles?limit=2"
    for _ in range(10):  # bounded
        body = await (await client.get(url, headers=auth)).json()
        assert "total" not in body
        seen.append([a["id"] for a in body["items"]])
        if body["next_cursor"] is None:
            break
        url = f"/api/v1/kb/articles?limit=2&cursor={body['next_cursor']}"
    assert seen == [["KB-0", "KB-1"], ["KB-2", "KB-3"], ["KB-4"]]
    counted = await client.get("/api/v1/kb/articles?count=true", headers=auth)
    assert (await counted.json())["total"] == 5
    ticket_cursor = base64.urlsafe_b64encode(b"t3").decode().rstrip("=")
    r = await client.get(f"/api/v1/kb/articles?cursor={ticket_cursor}", headers=auth)
    assert r.status == 400 and (await r.json())["errors"][0]["field"] == "cursor"


@contextmanager
def statements(client: TestClient) -> Iterator[list[str]]:
    """The SQL the app runs while the block lasts."""
    seen: list[str] = []
    engine = client.app[SERVICES].engine.sync_engine

    def record(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        seen.append(sql.lower())

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_assets_all_at_once_or_page_by_cursor(client: TestClient, auth: dict) -> None:
    with statements(client) as sql:
        everything = await (await client.get("/api/v1/assets", headers=auth)).json()
    assert [a["id"] for a in everything["items"]] == ASSETS  # no paging asked: all of them
    assert everything["next_cursor"] is None and "total" not in everything
    assert not [s for s in sql if "count(" in s]
    assert await _pages(client, auth, "limit=2", "/api/v1/assets") == [
        ["M-01", "M-02"], ["M-03", "M-04"], ["m-05"]
    ]  # fmt: skip
    assert await _pages(client, auth, "limit=5", "/api/v1/assets") == [ASSETS]
    with statements(client) as sql:
        r = await client.get("/api/v1/assets?limit=1&count=true", headers=auth)
    counted = await r.json()
    assert counted["total"] == 5 and [a["id"] for a in counted["items"]] == ["M-01"]
    assert len([s for s in sql if "count(" in s]) == 1
    rest = await client.get(f"/api/v1/assets?cursor={counted['next_cursor']}", headers=auth)
    assert [a["id"] for a in (await rest.json())["items"]] == ASSETS[1:]  # no limit: the rest


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("limit=0", "limit", "应为 1 到 200 的整数"),
        ("limit=201", "limit", "应为 1 到 200 的整数"),
        ("limit=two", "limit", "应为 1 到 200 的整数"),
        ("limit=%C2%B2", "limit", "应为 1 到 200 的整数"),  # a superscript two is not a number
        ("count=maybe", "count", "应为 true 或 false"),
        ("format=csv&limit=2", "format", "CSV 导出总是全部设备"),
    ],
)
async def test_assets_bad_paging_is_a_422_naming_the_field(
    client: TestClient, auth: dict, query: str, field: str, message: str
) -> None:
    r = await client.get(f"/api/v1/assets?{query}", headers=auth)
    assert r.status == 422
    [error] = (await r.json())["errors"]
    assert error["field"] == field and error["message"].startswith(message)


@pytest.mark.parametrize("cursor", ["!!!", _b64("t3"), _b64("k" + "M-01"), _b64("a"), "%E5%B7%A5"])
async def test_assets_bad_cursor_is_a_clear_400(
    client: TestClient, auth: dict, cursor: str
) -> None:
    r = await client.get(f"/api/v1/assets?limit=2&cursor={cursor}", headers=auth)
    assert r.status == 400
    [error] = (await r.json())["errors"]
    assert error["field"] == "cursor" and error["message"].startswith("无效的分页游标")


@pytest.mark.parametrize("path", ["/api/v1/tickets", "/api/v1/kb/articles"])
async def test_a_limit_in_other_digits_is_a_422(client: TestClient, auth: dict, path: str) -> None:
    r = await client.get(f"{path}?limit=%C2%B2", headers=auth)  # "²" passes str.isdigit()
    assert r.status == 422 and (await r.json())["errors"][0]["field"] == "limit"


async def test_openapi_documents_the_assets_cursor(client: TestClient) -> None:
    doc = await (await client.get("/api/v1/openapi.json")).json()
    listing = doc["paths"]["/api/v1/assets"]["get"]
    assert {"cursor", "count", "limit", "format"} <= {p["name"] for p in listing["parameters"]}
    schema = doc["components"]["schemas"]["AssetList"]
    assert "next_cursor" in schema["required"] and "total" not in schema["required"]
