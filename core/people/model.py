"""People: staff from the config, customers registered on first contact."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from core.messages import Actor, Channel


class PersonKind(StrEnum):
    STAFF = "staff"
    CUSTOMER = "customer"


ROLE_ZH = {
    "agent": "客服",
    "engineer": "工程师",
    "stock_keeper": "库管",
    "manager": "经理",
    "admin": "管理员",
    "customer": "客户",
}


@dataclass(kw_only=True)
class Person:
    id: str
    name: str
    kind: PersonKind = PersonKind.CUSTOMER
    roles: frozenset[str] = frozenset()
    region: str = ""
    skills: tuple[str, ...] = ()
    on_duty: bool = True
    max_open: int = 8
    phone: str = ""
    active: bool = True
    identities: dict[str, str] = field(default_factory=dict)  # platform -> user id
    prefer_platform: str = ""  # from the config: always reach this person there
    last_platform: str = ""  # where this person last wrote or clicked

    @property
    def is_staff(self) -> bool:
        """On the desk now: staff removed from the config (inactive) have no staff role."""
        return self.kind is PersonKind.STAFF and self.active

    @property
    def former_staff(self) -> bool:
        return self.kind is PersonKind.STAFF and not self.active

    def actor(self, channel: Channel) -> Actor:
        roles = self.roles if self.active else frozenset()
        return Actor(person_id=self.id, name=self.name, roles=roles, channel=channel)
