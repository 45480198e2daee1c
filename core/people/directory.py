"""The people directory: staff synced from the config, customers registered on first contact."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Text, bindparam, cast, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core import db
from core.people.model import Person, PersonKind
from core.queue import insert_ignoring_duplicates
from core.settings import PersonConfig


def person_from_config(cfg: PersonConfig) -> Person:
    identities = {}
    if cfg.wecom_userid:
        identities["wecom"] = cfg.wecom_userid
    if cfg.dingtalk_userid:
        identities["dingtalk"] = cfg.dingtalk_userid
    return Person(
        id=cfg.id,
        name=cfg.name,
        kind=PersonKind.STAFF,
        roles=frozenset(r.value for r in cfg.roles),
        region=cfg.region,
        skills=tuple(cfg.skills),
        on_duty=cfg.on_duty,
        max_open=cfg.max_open,
        phone=cfg.phone,
        identities=identities,
        prefer_platform=cfg.prefer_platform,
    )


def person_from_row(row: Any, identities: dict[str, str]) -> Person:
    m = row._mapping
    return Person(
        id=m["id"],
        name=m["name"],
        kind=PersonKind(m["kind"]),
        roles=frozenset(m["roles"] or ()),
        region=m["region"],
        skills=tuple(m["skills"] or ()),
        on_duty=m["on_duty"],
        max_open=m["max_open"],
        phone=m["phone"],
        active=m["active"],
        identities=identities,
        prefer_platform=m["prefer_platform"],
        last_platform=m["last_platform"],
    )


# A person's columns as plain values, in the order ``person_from_values`` takes them: roles and
# skills as their JSON text (cast: PostgreSQL's driver would decode it), decoded once per
# distinct text (the same staff rows come back in every roster read).
PERSON_COLUMNS = (
    db.people.c.id,
    db.people.c.name,
    db.people.c.kind,
    cast(db.people.c.roles, Text).label("roles"),
    db.people.c.region,
    cast(db.people.c.skills, Text).label("skills"),
    db.people.c.on_duty,
    db.people.c.max_open,
    db.people.c.phone,
    db.people.c.active,
    db.people.c.prefer_platform,
    db.people.c.last_platform,
)


@lru_cache(maxsize=1024)
def _roles(text: str | None) -> frozenset[str]:
    return frozenset((json.loads(text) if text else None) or ())


@lru_cache(maxsize=1024)
def _skills(text: str | None) -> tuple[str, ...]:
    return tuple((json.loads(text) if text else None) or ())


def person_from_values(values: Sequence[Any], identities: dict[str, str]) -> Person:
    """A person from the values of ``PERSON_COLUMNS``, as ``person_from_row`` reads them."""
    pid, name, kind, roles, region, skills, on_duty, max_open, phone, active, prefer, last = values
    return Person(
        id=pid,
        name=name,
        kind=PersonKind(kind),
        roles=_roles(roles),
        region=region,
        skills=_skills(skills),
        on_duty=on_duty,
        max_open=max_open,
        phone=phone,
        active=active,
        identities=identities,
        prefer_platform=prefer,
        last_platform=last,
    )


def person_values(person: Person) -> dict[str, Any]:
    """The ``people`` columns a person's own data fills (not id, created_at, last_platform)."""
    return {
        "name": person.name,
        "kind": person.kind.value,
        "roles": sorted(person.roles),
        "region": person.region,
        "skills": list(person.skills),
        "on_duty": person.on_duty,
        "max_open": person.max_open,
        "phone": person.phone,
        "active": person.active,
        "prefer_platform": person.prefer_platform,
    }


def _by_identity_statement() -> Any:
    """The person behind (platform, user_id) with every identity of theirs, built once: the
    chat worker runs it for every message."""
    found, every = db.identities.alias("found"), db.identities.alias("every")
    return (
        select(db.people, every.c.platform.label("_platform"), every.c.user_id.label("_uid"))
        .select_from(
            found.join(db.people, db.people.c.id == found.c.person_id).join(
                every, every.c.person_id == db.people.c.id
            )
        )
        .where(found.c.platform == bindparam("platform"), found.c.user_id == bindparam("uid"))
    )


_BY_IDENTITY = _by_identity_statement()
_N = len(PERSON_COLUMNS)
_WITH_IDENTITIES = select(
    *PERSON_COLUMNS, db.identities.c.platform, db.identities.c.user_id
).select_from(
    db.people.outerjoin(db.identities, db.identities.c.person_id == db.people.c.id)
)  # a person's row once per identity: (*PERSON_COLUMNS, platform, user id)
_GET = _WITH_IDENTITIES.where(db.people.c.id == bindparam("id"))
_GET_MANY = _WITH_IDENTITIES.where(db.people.c.id.in_(bindparam("ids", expanding=True)))


@lru_cache
def _add_customer_statements(dialect: str) -> tuple[Any, Any]:
    """A new customer's two INSERTs, built once per database type (every first message from
    someone new runs them, and building them cost about as much as running them)."""
    person = insert_ignoring_duplicates(dialect, db.people, ["id"]).returning(db.people.c.id)
    return person, insert(db.identities)


def _person(rows: Sequence[Sequence[Any]]) -> Person | None:
    """A person from their rows of ``_WITH_IDENTITIES`` (none: nobody)."""
    found = {r[_N]: r[_N + 1] for r in rows if r[_N] is not None}
    return person_from_values(rows[0][:_N], found) if rows else None


_REGISTER_PG = text(
    f"""
    WITH n AS (SELECT nextval('{db.CUSTOMER_SEQUENCE}') AS v),
    p AS (
        INSERT INTO people (id, name, kind, roles, region, skills, on_duty, max_open, phone,
                            active, created_at, prefer_platform, last_platform)
        SELECT 'c' || n.v, COALESCE(NULLIF(:name, ''), '客户' || n.v), :kind,
               CAST(:roles AS JSON), :region, CAST(:skills AS JSON), :on_duty, :max_open,
               :phone, :active, :at, :prefer_platform, :platform
        FROM n
        ON CONFLICT (id) DO NOTHING
        RETURNING id, name
    ),
    i AS (
        INSERT INTO identities (platform, user_id, person_id, display_name, created_at)
        SELECT :platform, :user_id, p.id, p.name, :at FROM p
    )
    SELECT n.v, p.id, p.name FROM n LEFT JOIN p ON true
    """
)  # a new customer on PostgreSQL in one round trip: number, person and identity


class SqlPeopleRepository:
    """People of one unit of work; ``get`` remembers whom it read until something is written
    (a scan telling many people about many tickets reads each person once)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._known: dict[str, Person | None] = {}
        self.registered: set[str] = set()  # customers added in this unit of work (no tickets yet)

    async def get(self, person_id: str) -> Person | None:
        if person_id in self._known:
            return self._known[person_id]
        # the person and their identities in one statement
        rows = (await self._conn.execute(_GET, {"id": person_id})).all()
        person = _person(rows)
        self._known[person_id] = person
        return person

    def remember(self, people: list[Person]) -> None:
        """People read elsewhere with their identities (the dispatch roster): ``get`` answers
        from memory for them."""
        self._known.update({p.id: p for p in people})

    async def get_many(self, ids: list[str]) -> None:
        """Read many people (and their identities) in one statement; ``get`` then answers from
        memory for them."""
        missing = [i for i in dict.fromkeys(ids) if i and i not in self._known]
        if not missing:
            return
        found: dict[str, list[Any]] = {pid: [] for pid in missing}
        for r in await self._conn.execute(_GET_MANY, {"ids": missing}):
            found[r[0]].append(r)
        for pid, mine in found.items():
            self._known[pid] = _person(mine)

    async def by_identity(self, platform: str, user_id: str) -> Person | None:
        """The person behind a platform identity, with all their identities: one query (the
        chat worker asks this for every message)."""
        rows = (
            await self._conn.execute(_BY_IDENTITY, {"platform": platform, "uid": user_id})
        ).all()
        if not rows:
            return None
        return person_from_row(rows[0], {r._platform: r._uid for r in rows})

    async def find(self, text: str) -> Person | None:
        """A staff member by id or by exact name (for 转派 #12 张伟)."""
        person = await self.get(text)
        if person:
            return person
        pid = (
            await self._conn.execute(
                select(db.people.c.id).where(db.people.c.name == text, db.people.c.active.is_(True))
            )
        ).scalar()
        return await self.get(pid) if pid else None

    async def staff(self) -> list[Person]:
        rows = (
            await self._conn.execute(
                select(db.people)
                .where(db.people.c.kind == PersonKind.STAFF.value, db.people.c.active.is_(True))
                .order_by(db.people.c.id)
            )
        ).all()
        ids = [r.id for r in rows]
        found: dict[str, dict[str, str]] = {pid: {} for pid in ids}
        if ids:  # one query for everyone's identities, not one per person
            i = db.identities.c
            for pid, platform, user_id in await self._conn.execute(
                select(i.person_id, i.platform, i.user_id).where(i.person_id.in_(ids))
            ):
                found[pid][platform] = user_id
        return [person_from_row(r, found[r.id]) for r in rows]

    async def upsert(self, person: Person, *, at: datetime) -> None:
        self._known.clear()
        values = person_values(person)
        changed = await self._conn.execute(
            update(db.people).where(db.people.c.id == person.id).values(**values)
        )
        if changed.rowcount == 0:
            await self._conn.execute(
                insert(db.people).values(id=person.id, created_at=at, **values)
            )
        for platform, user_id in person.identities.items():
            await self.link(platform, user_id, person.id, display_name=person.name, at=at)

    async def add_customer(self, person: Person, *, at: datetime) -> bool:
        """A customer seen for the first time: their row and their one identity (two inserts).
        False, with nothing written, when the id is someone else's already."""
        self._known.clear()
        row = {
            "id": person.id,
            **person_values(person),
            "last_platform": person.last_platform,
            "created_at": at,
        }
        new_person, new_identity = _add_customer_statements(self._conn.dialect.name)
        if not (await self._conn.execute(new_person, row)).all():
            return False
        identities = [
            {"platform": p, "user_id": u, "person_id": person.id,
             "display_name": person.name, "created_at": at}
            for p, u in person.identities.items()
        ]  # fmt: skip
        self.registered.add(person.id)
        # one identity (the usual case) as one statement, not as an executemany of one
        if len(identities) == 1:
            await self._conn.execute(new_identity, identities[0])
        elif identities:
            await self._conn.execute(new_identity, identities)
        return True

    async def register_customer(
        self, platform: str, user_id: str, *, display_name: str, at: datetime
    ) -> Person | None:
        """PostgreSQL: a customer seen for the first time, numbered, stored and given their
        identity in one statement; None, with nothing written but a skipped number, when the
        number's id is someone else's already (a staff "c12")."""
        template = Person(id="", name="", kind=PersonKind.CUSTOMER)
        values = person_values(template)
        row = (
            await self._conn.execute(
                _REGISTER_PG,
                {
                    **values,
                    "roles": json.dumps(values["roles"]),
                    "skills": json.dumps(values["skills"]),
                    "name": display_name,
                    "platform": platform,
                    "user_id": user_id,
                    "at": at,
                },
            )
        ).one()
        if row[1] is None:
            return None
        self._known.clear()
        self.registered.add(row[1])
        return Person(
            id=row[1],
            name=row[2],
            kind=PersonKind.CUSTOMER,
            identities={platform: user_id},
            last_platform=platform,
        )

    async def link(
        self, platform: str, user_id: str, person_id: str, *, display_name: str, at: datetime
    ) -> None:
        self._known.clear()
        current = (
            await self._conn.execute(
                select(db.identities.c.person_id).where(
                    db.identities.c.platform == platform, db.identities.c.user_id == user_id
                )
            )
        ).scalar()
        if current == person_id:
            return
        if current is not None:
            await self._conn.execute(
                update(db.identities)
                .where(db.identities.c.platform == platform, db.identities.c.user_id == user_id)
                .values(person_id=person_id, display_name=display_name)
            )
            return
        await self._conn.execute(
            insert(db.identities).values(
                platform=platform,
                user_id=user_id,
                person_id=person_id,
                display_name=display_name,
                created_at=at,
            )
        )

    async def touch_platform(self, person_id: str, platform: str) -> None:
        """Remember where the person last wrote (written only when it changes)."""
        self._known.clear()
        await self._conn.execute(
            update(db.people)
            .where(db.people.c.id == person_id, db.people.c.last_platform != platform)
            .values(last_platform=platform)
        )

    async def deactivate_staff_except(self, keep: set[str]) -> None:
        self._known.clear()
        await self._conn.execute(
            update(db.people)
            .where(db.people.c.kind == PersonKind.STAFF.value, db.people.c.id.not_in(keep))
            .values(active=False)
        )

    async def count_customers(self) -> int:
        return int(
            (
                await self._conn.execute(
                    select(func.count())
                    .select_from(db.people)
                    .where(db.people.c.kind == PersonKind.CUSTOMER.value)
                )
            ).scalar()
            or 0
        )


async def identify(
    repo: SqlPeopleRepository,
    conn: AsyncConnection,
    *,
    platform: str,
    user_id: str,
    display_name: str,
    at: datetime,
) -> Person:
    """The person behind a platform identity; an unknown one is registered as a customer."""
    person = await repo.by_identity(platform, user_id)
    if person is not None:
        if person.last_platform != platform:
            await repo.touch_platform(person.id, platform)
            person.last_platform = platform
        return person
    while conn.dialect.name == "postgresql":  # one statement; a taken id skips its number
        registered = await repo.register_customer(
            platform, user_id, display_name=display_name, at=at
        )
        if registered is not None:
            return registered
    while True:  # a number whose id someone else has (a staff "c12") is skipped
        number = await db.next_customer_number(conn)
        person = Person(
            id=f"c{number}",
            name=display_name or f"客户{number}",
            kind=PersonKind.CUSTOMER,
            identities={platform: user_id},
            last_platform=platform,
        )
        if await repo.add_customer(person, at=at):
            return person
