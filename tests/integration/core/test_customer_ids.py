"""Customers numbered c1, c2, ... never take over a staff member's id (issue #8 item 9)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.people.directory import identify
from core.people.model import Person, PersonKind
from core.settings import DeskConfig, PersonConfig
from core.uow import SqlUnitOfWork

T0 = datetime(2025, 6, 10, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize("pid", ["c12", "C3", "api", "system"])
def test_the_config_refuses_ids_reserved_for_customers_and_the_system(pid: str) -> None:
    with pytest.raises(ValueError, match="已保留"):
        PersonConfig(id=pid, name="x", roles=["engineer"])


async def test_a_new_customer_skips_an_id_already_taken(synced_engine) -> None:
    engine = await synced_engine(DeskConfig(), T0)
    async with SqlUnitOfWork(engine) as uow:  # e.g. configured before ids were reserved
        staff = Person(id="c1", name="陈工", kind=PersonKind.STAFF, roles=frozenset({"engineer"}))
        await uow.people.upsert(staff, at=T0)
        await uow.commit()
    async with SqlUnitOfWork(engine) as uow:
        customer = await identify(
            uow.people, uow.conn, platform="wecom", user_id="kehu", display_name="王", at=T0
        )
        await uow.commit()
    assert customer.id == "c2"
    async with SqlUnitOfWork(engine) as uow:
        kept = await uow.people.get("c1")
    assert kept is not None and kept.is_staff and kept.name == "陈工" and not kept.identities


async def test_a_new_customer_reads_back_as_registered(synced_engine) -> None:
    """On PostgreSQL the number, the person and the identity are one statement; what it wrote
    must read back as the person `identify` returned, and be found again by their identity."""
    engine = await synced_engine(DeskConfig(), T0)
    async with SqlUnitOfWork(engine) as uow:
        named = await identify(
            uow.people, uow.conn, platform="wecom", user_id="kehu", display_name="王", at=T0
        )
        unnamed = await identify(
            uow.people, uow.conn, platform="dingtalk", user_id="0456", display_name="", at=T0
        )
        await uow.commit()
    assert (named.id, named.name, unnamed.id, unnamed.name) == ("c1", "王", "c2", "客户2")
    async with SqlUnitOfWork(engine) as uow:
        for person, platform, uid in ((named, "wecom", "kehu"), (unnamed, "dingtalk", "0456")):
            stored = await uow.people.get(person.id)
            assert stored is not None
            assert (stored.name, stored.kind, stored.roles, stored.skills) == (
                person.name,
                PersonKind.CUSTOMER,
                frozenset(),
                (),
            )
            assert stored.identities == {platform: uid} and stored.active
            assert stored.last_platform == platform and stored.max_open == 8
            again = await identify(
                uow.people, uow.conn, platform=platform, user_id=uid, display_name="x", at=T0
            )
            assert again.id == person.id
