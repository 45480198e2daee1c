"""The platform side of the fault tests: WeCom and DingTalk posting signed (and on WeCom
encrypted) callbacks to real `chatdesk serve` processes (tests/fakes/serve.py's ServeProcess).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.e2e.platforms import robot_callback
from tests.fakes.serve import ServeProcess
from tests.fakes.wecom_support import callback, text_xml

_nonce = itertools.count(1)


@dataclass
class Sender:
    """What the platforms do: post signed (and on WeCom encrypted) callbacks to an instance."""

    session: aiohttp.ClientSession
    statuses: list[int] = field(default_factory=list)

    async def say(self, instance: ServeProcess, user: str, text: str, msg_id: int) -> int:
        """Post one WeCom text message; the HTTP status, or 0 when no answer came (refused,
        reset). WeCom's retries of a message carry the same ``msg_id``."""
        query, body = callback(text_xml(user, text, msg_id), f"f{next(_nonce)}")
        return await self._post(f"{instance.url}/webhooks/wecom", body, params=query)

    async def ding(self, instance: ServeProcess, user: str, text: str, msg_id: str) -> int:
        """The same for one DingTalk robot message."""
        headers, body = robot_callback(user, {"msgtype": "text", "text": {"content": text}}, msg_id)
        return await self._post(f"{instance.url}/webhooks/dingtalk/robot", body, headers=headers)

    async def _post(self, url: str, body: bytes, **kwargs: Any) -> int:
        try:
            async with self.session.post(url, data=body, **kwargs) as r:
                await r.read()
                status = r.status
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        self.statuses.append(status)
        return status
