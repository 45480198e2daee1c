"""Every command handler and event handler of the core, for the bus."""

from __future__ import annotations

from core.bus import CommandHandler, EventHandler
from core.kb import handlers as kb
from core.parts import handlers as parts
from core.reports import handlers as reports
from core.settlement import handlers as settlement
from core.signoff import handlers as signoff
from core.sla import engine as sla
from core.tickets import arrival, assignment, completion, conversation, dispatch, handlers

MODULES = (
    handlers,
    assignment,
    dispatch,
    conversation,
    completion,
    arrival,
    parts,
    reports,
    signoff,
    settlement,
    sla,
    kb,
)

COMMAND_HANDLERS: dict[type, CommandHandler] = {}
EVENT_HANDLERS: dict[type, list[EventHandler]] = {}
for module in MODULES:
    for command, handler in module.COMMAND_HANDLERS.items():
        if command in COMMAND_HANDLERS:
            raise RuntimeError(f"two handlers for {command.__name__}")
        COMMAND_HANDLERS[command] = handler
    for event, reactions in module.EVENT_HANDLERS.items():
        EVENT_HANDLERS.setdefault(event, []).extend(reactions)

# run after every command's handlers and events, before the commit (SLA clocks follow)
BEFORE_COMMIT = list(sla.BEFORE_COMMIT)
