"""What each demo person sees in each platform's chat, and the live feed to the page.

The fake platform APIs write the bot's messages and cards here; the page's own messages are
written by the sandbox routes. Every change is published to the subscribers (server-sent
events) as the whole entry, so a page applies it by id.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

MAX_ENTRIES = 5000


@dataclass
class Entry:
    id: int
    platform: str  # wecom | dingtalk
    user_id: str  # the person's user id on that platform
    sender: str  # bot | me
    kind: str  # text | markdown | card | image
    text: str = ""
    card: dict[str, Any] | None = None  # the platform's own card JSON, as the fake API got it
    card_key: str = ""  # WeCom task_id / DingTalk cardBizId
    finished_label: str = ""  # WeCom: the replace_name that greyed the buttons out
    image_url: str = ""
    at: float = field(default_factory=time.time)
    version: int = 1

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "platform": self.platform,
            "user_id": self.user_id,
            "sender": self.sender,
            "kind": self.kind,
            "text": self.text,
            "card": self.card,
            "card_key": self.card_key,
            "finished_label": self.finished_label,
            "image_url": self.image_url,
            "at": self.at,
            "version": self.version,
        }


class Hub:
    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.entries: list[Entry] = []
        self._cards: dict[tuple[str, str], Entry] = {}
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self.media: dict[str, tuple[bytes, str]] = {}  # media id -> (bytes, content type)

    # --- writing ------------------------------------------------------------------------------

    def add(self, platform: str, user_id: str, sender: str, kind: str, **values: Any) -> Entry:
        entry = Entry(next(self._ids), platform, user_id, sender, kind, **values)
        self.entries.append(entry)
        if len(self.entries) > MAX_ENTRIES:
            dropped = self.entries.pop(0)
            self._cards.pop((dropped.platform, dropped.card_key), None)
        if kind == "card" and entry.card_key:
            self._cards[(platform, entry.card_key)] = entry
        self._publish({"type": "entry", "entry": entry.as_json()})
        return entry

    def card(self, platform: str, card_key: str) -> Entry | None:
        return self._cards.get((platform, card_key))

    def update_card(self, entry: Entry, **changes: Any) -> None:
        for name, value in changes.items():
            setattr(entry, name, value)
        entry.version += 1
        self._publish({"type": "entry", "entry": entry.as_json()})

    def reset(self) -> None:
        self.entries.clear()
        self._cards.clear()
        self.media.clear()
        self._publish({"type": "reset"})

    # --- reading ------------------------------------------------------------------------------

    def snapshot(self) -> list[dict[str, Any]]:
        return [e.as_json() for e in self.entries]

    def _publish(self, event: dict[str, Any]) -> None:
        for queue in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(event)

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._subscribers.discard(queue)
