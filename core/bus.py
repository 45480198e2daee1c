"""The message bus: one handler per command, any number per event, one transaction."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from core.clock import Clock
from core.messages import Command, Event
from core.settings import DeskConfig
from core.uow import UnitOfWork

log = logging.getLogger(__name__)


@dataclass
class Context:
    """What a handler gets besides its message."""

    uow: UnitOfWork
    clock: Clock
    config: DeskConfig


CommandHandler = Callable[[Any, Context], Awaitable[Any]]
EventHandler = Callable[[Any, Context], Awaitable[None]]


class Duplicate:
    """Returned for a command whose ``source`` was already processed."""

    def __repr__(self) -> str:
        return "Duplicate"


DUPLICATE = Duplicate()


class MessageBus:
    def __init__(
        self,
        *,
        uow_factory: Callable[[], UnitOfWork],
        clock: Clock,
        config: DeskConfig,
        command_handlers: dict[type[Command], CommandHandler],
        event_handlers: dict[type[Event], list[EventHandler]],
        before_commit: Sequence[Callable[[Context], Awaitable[None]]] = (),
    ) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.config = config
        self.command_handlers = command_handlers
        self.event_handlers = event_handlers
        self.before_commit = list(before_commit)

    async def handle(self, command: Command) -> Any:
        """Run the command's handler and every event it causes, then commit once.

        A domain error rolls everything back and propagates to the caller.
        """
        async with self.uow_factory() as uow:
            result = await self.run(command, uow)
            await uow.commit()
        return result

    async def run(self, command: Command, uow: UnitOfWork) -> Any:
        """Run the command and its events inside the caller's unit of work, without committing
        (the inbox worker handles a whole chat message in one transaction this way)."""
        handler = self.command_handlers[type(command)]
        ctx = Context(uow=uow, clock=self.clock, config=self.config)
        if command.source and not await uow.mark_processed(command.source, at=self.clock.now()):
            return DUPLICATE
        result = await handler(command, ctx)
        queue = uow.collect_events()
        while queue:
            event = queue.pop(0)
            for react in self.event_handlers.get(type(event), []):
                await react(event, ctx)
            queue.extend(uow.collect_events())
        for hook in self.before_commit:
            await hook(ctx)
        return result
