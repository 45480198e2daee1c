"""(filled in by the service-desk loop issue)"""

from __future__ import annotations

from core.bus import CommandHandler, EventHandler

COMMAND_HANDLERS: dict[type, CommandHandler] = {}
EVENT_HANDLERS: dict[type, list[EventHandler]] = {}
