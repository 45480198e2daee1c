"""The demo app on a real loopback port (the sandbox calls its own webhooks and fake APIs)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.serve import free_port
from webhooks.app import create_app
from webhooks.settings import load_settings

FAST_WORKERS = {"inbox_poll_s": 0.05, "outbox_poll_s": 0.05, "retry_base_s": 0.1}


@dataclass
class Demo:
    app: web.Application
    base: str
    session: aiohttp.ClientSession

    async def post(self, path: str, body: Any) -> tuple[int, Any]:
        async with self.session.post(self.base + path, json=body) as r:
            return r.status, await r.json()

    async def say(self, platform: str, person: str, text: str) -> tuple[int, Any]:
        return await self.post(
            "/sandbox/api/say", {"platform": platform, "person": person, "text": text}
        )

    async def state(self) -> dict[str, Any]:
        async with self.session.get(self.base + "/sandbox/api/state") as r:
            return await r.json()

    async def entries(self, platform: str, person: str) -> list[dict[str, Any]]:
        state = await self.state()
        user = state["user_ids"][person][platform]
        return [e for e in state["entries"] if e["platform"] == platform and e["user_id"] == user]

    async def texts(self, platform: str, person: str) -> list[str]:
        return [
            e["text"]
            for e in await self.entries(platform, person)
            if e["sender"] == "bot" and e["kind"] != "card"
        ]

    async def cards(self, platform: str, person: str) -> list[dict[str, Any]]:
        return [e for e in await self.entries(platform, person) if e["kind"] == "card"]

    async def wait(self, check: Any, timeout: float = 15.0) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            value = await check()
            if value:
                return value
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"not met within {timeout}s: {value!r}")
            await asyncio.sleep(0.05)

    async def card_with(self, platform: str, person: str, button: str) -> dict[str, Any]:
        async def find() -> dict[str, Any] | None:
            for card in reversed(await self.cards(platform, person)):
                if button in buttons(card):
                    return card
            return None

        return await self.wait(find)

    async def report(self, platform: str, person: str, text: str) -> str:
        """Report a problem and return the new ticket's ``#n``; when the knowledge base offers
        articles first (已解决 / 仍需报修), the person still wants the repair."""
        await self.say(platform, person, text)
        pressed: set[int] = set()

        async def created() -> str | None:
            for t in await self.texts(platform, person):
                if m := re.search(r"已为您创建工单 (#\d+)", t):
                    return m.group(1)
            for card in await self.cards(platform, person):
                if "仍需报修" in buttons(card) and card["id"] not in pressed:
                    pressed.add(card["id"])
                    await self.click(platform, person, card, "仍需报修")
            return None

        return await self.wait(created)

    async def click(self, platform: str, person: str, card: dict[str, Any], button: str) -> int:
        status, _ = await self.post(
            "/sandbox/api/click",
            {
                "platform": platform,
                "person": person,
                "card": card["card_key"],
                "action": buttons(card)[button],
            },
        )
        return status


def buttons(entry: dict[str, Any]) -> dict[str, str]:
    """Button text -> key of a card as the platform's JSON shows it (none once finished)."""
    card = entry["card"] or {}
    if entry["finished_label"]:
        return {}
    if entry["platform"] == "wecom":
        return {b["text"]: b["key"] for b in card.get("button_list", [])}
    return {
        a["label"]["text"]: a["id"]
        for block in card.get("contents", [])
        for a in block.get("actions", [])
        if a.get("actionType") == "request"
    }


def card_text(entry: dict[str, Any]) -> str:
    import json

    return json.dumps(entry["card"], ensure_ascii=False) + entry["finished_label"]


@asynccontextmanager
async def start_demo(tmp_path: Path, **overrides: Any) -> AsyncIterator[Demo]:
    port = free_port()
    overrides.setdefault("sandbox_database_url", f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}")
    overrides.setdefault("sandbox_media_dir", str(tmp_path / "demo-media"))
    overrides.setdefault("workers", FAST_WORKERS)
    settings = load_settings(None, http={"host": "127.0.0.1", "port": port}, **overrides)
    app = create_app(settings)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    session = aiohttp.ClientSession()
    try:
        yield Demo(app, f"http://127.0.0.1:{port}", session)
    finally:
        await session.close()
        await runner.cleanup()
