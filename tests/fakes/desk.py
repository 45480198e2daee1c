"""The whole core on the in-memory unit of work, a fixed clock and the SLA hook: a test desk."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.bus import MessageBus
from core.clock import FixedClock
from core.handlers import BEFORE_COMMIT, COMMAND_HANDLERS, EVENT_HANDLERS
from core.messages import Actor, Channel, Command
from core.people.directory import person_from_config
from core.people.model import Person, PersonKind
from core.settings import DeskConfig, PersonConfig
from tests.fakes.uow import MemoryStore, MemoryUnitOfWork


def make_actor(people: list[PersonConfig], person_id: str) -> Actor:
    cfg = next((p for p in people if p.id == person_id), None)
    if cfg is None:  # a customer
        return Actor(person_id=person_id, name=f"客户{person_id}", channel=Channel.WECOM)
    return person_from_config(cfg).actor(Channel.WECOM)


class MemoryDesk:
    """Staff from ``config.people`` and customer c1 on WeCom; ``store`` may be shared."""

    def __init__(self, config: DeskConfig, now: datetime, store: MemoryStore | None = None) -> None:
        self.config = config.with_platforms(("wecom",))
        self.store = store or MemoryStore()
        if store is None:
            for cfg in config.people:
                self.store.people[cfg.id] = person_from_config(cfg)
            self.store.people["c1"] = Person(
                id="c1", name="客户c1", kind=PersonKind.CUSTOMER, identities={"wecom": "c1"}
            )
        self.clock = FixedClock(now)
        self.bus = MessageBus(
            uow_factory=lambda: MemoryUnitOfWork(self.store),
            clock=self.clock,
            config=self.config,
            command_handlers=dict(COMMAND_HANDLERS),
            event_handlers={k: list(v) for k, v in EVENT_HANDLERS.items()},
            before_commit=BEFORE_COMMIT,
        )

    async def handle(self, command: Command) -> Any:
        return await self.bus.handle(command)
