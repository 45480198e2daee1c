"""Every command handler and event handler of the core, for the bus."""

from __future__ import annotations

from core.bus import CommandHandler, EventHandler
from core.tickets import assignment, handlers

COMMAND_HANDLERS: dict[type, CommandHandler] = {
    **handlers.COMMAND_HANDLERS,
    **assignment.COMMAND_HANDLERS,
}

EVENT_HANDLERS: dict[type, list[EventHandler]] = {}
for table in (handlers.EVENT_HANDLERS, assignment.EVENT_HANDLERS):
    for event, reactions in table.items():
        EVENT_HANDLERS.setdefault(event, []).extend(reactions)
