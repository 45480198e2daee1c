"""Platform channels: builds the configured adapters and mounts their webhook routes."""

from __future__ import annotations

from aiohttp import web

from webhooks.bootstrap import Services
from webhooks.settings import Settings


async def setup_channels(app: web.Application, services: Services) -> None:
    """Create the adapters of the configured platforms (added with the WeCom/DingTalk issues)."""


def add_channel_routes(app: web.Application, settings: Settings) -> None:
    """Mount /webhooks/... for the configured platforms."""
