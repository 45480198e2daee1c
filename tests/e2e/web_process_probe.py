"""Run as ``python -m tests.e2e.web_process_probe DATABASE_URL REDIS_URL`` by
test_web_process_imports.py: the web process of ``chatdesk serve`` (the app with its workers in
another process) in a fresh interpreter, driven over HTTP; prints, as one JSON object, which of
the heavy libraries it has imported after each step."""

from __future__ import annotations

from webhooks.memory import engine_without_orm

engine_without_orm()  # first, as `chatdesk serve` does (webhooks/__main__.py)

import asyncio  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402

from aiohttp.test_utils import TestClient, TestServer  # noqa: E402

from tests.conftest import API_TOKEN  # noqa: E402
from tests.e2e.platforms import wecom_settings  # noqa: E402
from tests.fakes.wecom_support import callback, text_xml  # noqa: E402
from webhooks.app import create_app  # noqa: E402
from webhooks.settings import load_settings  # noqa: E402

HEAVY = (
    "jieba", "pypinyin", "marisa_trie", "numpy", "openpyxl", "segno", "dingtalk_stream",
    "apscheduler", "sqlalchemy.orm",
)  # fmt: skip
ARTICLE = {
    "id": "KB-1",
    "title": "空压机不启动",
    "body": "现象：空压机按下启动键没有反应。\n处理：检查急停按钮是否复位。",
    "tags": ["空压机"],
}


def loaded() -> list[str]:
    return [name for name in HEAVY if name in sys.modules]


async def main(database_url: str, redis_url: str) -> dict[str, list[str]]:
    settings = load_settings(
        None,
        database_url=database_url,
        redis_url=redis_url,
        api_tokens=[API_TOKEN],
        sandbox="off",
        wecom=wecom_settings("http://127.0.0.1:9"),  # nothing is sent: the workers run apart
    )
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    seen: dict[str, list[str]] = {}
    async with TestClient(TestServer(create_app(settings, run_workers=False))) as client:
        seen["started"] = loaded()
        for n in range(3):
            query, body = callback(text_xml(f"kehu{n}", "帮助", 700 + n), f"n{n}")
            assert (await client.post("/webhooks/wecom", params=query, data=body)).status == 200
        assert (await client.get("/readyz")).status == 200
        assert (await client.get("/api/v1/tickets", headers=auth)).status == 200
        r = await client.post("/api/v1/kb/articles", json=ARTICLE, headers=auth)
        assert r.status == 201
        seen["acks_and_api"] = loaded()
        r = await client.get("/api/v1/kb/search", params={"q": "空压机启动不了"}, headers=auth)
        assert [h["id"] for h in (await r.json())["items"]] == ["KB-1"]
        seen["kb_search"] = loaded()
    return seen


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2]))))
