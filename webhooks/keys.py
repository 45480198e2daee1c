"""Typed application state keys (aiohttp AppKey)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from webhooks.bootstrap import Services
    from webhooks.settings import Settings

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
SERVICES: web.AppKey[Services] = web.AppKey("services")
