"""REST for the knowledge base: articles, publishing, search, and what goes wrong."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from webhooks.app import create_app

ARTICLE = {
    "id": "KB-100",
    "title": "打印机卡纸",
    "body": "现象：提示卡纸。\n处理：打开前盖取出纸张。",
    "tags": ["打印机", "卡纸"],
    "product": "办公打印机",
}


@pytest.fixture
async def client(aiohttp_client, make_settings) -> TestClient:
    return await aiohttp_client(create_app(make_settings(), run_workers=False))


async def test_create_read_edit_publish_and_delete(client: TestClient, auth: dict) -> None:
    r = await client.post("/api/v1/kb/articles", json={**ARTICLE, "status": "draft"}, headers=auth)
    assert r.status == 201
    made = await r.json()
    assert made["status"] == "draft" and made["url"].endswith("/kb/KB-100")
    assert made["tags"] == ["打印机", "卡纸"] and made["views"] == 0

    found = await (await client.get("/api/v1/kb/search?q=打印机卡纸", headers=auth)).json()
    assert found == {"items": []}  # a draft is not searchable

    r = await client.patch("/api/v1/kb/articles/KB-100", json={"status": "published"}, headers=auth)
    assert (await r.json())["status"] == "published"
    found = await (await client.get("/api/v1/kb/search?q=打印机卡纸", headers=auth)).json()
    assert [h["id"] for h in found["items"]] == ["KB-100"]

    r = await client.patch(
        "/api/v1/kb/articles/KB-100", json={"title": "打印机卡纸（J-01）"}, headers=auth
    )
    assert (await r.json())["title"] == "打印机卡纸（J-01）"
    listing = await (
        await client.get("/api/v1/kb/articles?status=published&count=true", headers=auth)
    ).json()
    assert listing["total"] == 1 and listing["items"][0]["id"] == "KB-100"

    assert (await client.delete("/api/v1/kb/articles/KB-100", headers=auth)).status == 204
    assert (await client.get("/api/v1/kb/articles/KB-100", headers=auth)).status == 404


async def test_an_id_is_made_when_none_is_given(client: TestClient, auth: dict) -> None:
    body = {k: v for k, v in ARTICLE.items() if k != "id"}
    made = await (await client.post("/api/v1/kb/articles", json=body, headers=auth)).json()
    assert made["id"].startswith("KB-") and made["status"] == "published"


async def test_what_goes_wrong(client: TestClient, auth: dict) -> None:
    assert (await client.get("/api/v1/kb/articles")).status == 401
    assert (await client.post("/api/v1/kb/articles", json=ARTICLE)).status == 401
    assert (await client.post("/api/v1/kb/articles", json=ARTICLE, headers=auth)).status == 201
    dup = await client.post("/api/v1/kb/articles", json=ARTICLE, headers=auth)
    assert dup.status == 409
    assert (await dup.json())["errors"][0]["field"] == "id"

    bad = await client.post(
        "/api/v1/kb/articles",
        json={"id": "bad id!", "title": "", "body": "x", "tags": [""], "color": 1},
        headers=auth,
    )
    assert bad.status == 422
    fields = {e["field"] for e in (await bad.json())["errors"]}
    assert {"id", "title", "color"} <= fields

    r = await client.post(
        "/api/v1/kb/articles",
        data=b"{not json",
        headers={**auth, "Content-Type": "application/json"},
    )
    assert r.status == 400
    r = await client.patch("/api/v1/kb/articles/KB-100", json={"status": "gone"}, headers=auth)
    assert r.status == 422
    r = await client.patch("/api/v1/kb/articles/NOPE", json={"title": "x"}, headers=auth)
    assert r.status == 404
    assert (await client.get("/api/v1/kb/articles/%3Cx%3E", headers=auth)).status == 404
    assert (await client.delete("/api/v1/kb/articles/NOPE", headers=auth)).status == 404
    assert (await client.get("/api/v1/kb/search", headers=auth)).status == 422
    assert (await client.get("/api/v1/kb/search?q=x&limit=0", headers=auth)).status == 422
    assert (await client.get("/api/v1/kb/articles?status=old", headers=auth)).status == 422
    assert (await client.get("/api/v1/kb/articles?limit=x", headers=auth)).status == 422
    still = await (await client.get("/api/v1/kb/articles/KB-100", headers=auth)).json()
    assert still["title"] == ARTICLE["title"]


async def test_the_openapi_document_lists_the_knowledge_routes(client: TestClient) -> None:
    doc = await (await client.get("/api/v1/openapi.json")).json()
    assert "/api/v1/kb/articles" in doc["paths"]
    assert "patch" in doc["paths"]["/api/v1/kb/articles/{article_id}"]
    assert "/api/v1/kb/search" in doc["paths"]
