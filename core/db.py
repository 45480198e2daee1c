"""Database schema (SQLAlchemy Core) and engine creation, for SQLite and PostgreSQL.

Alembic migrations in migrations/ create exactly these tables; keep changes additive.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    bindparam,
    text,
    update,
)
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from core.write_lock import BUSY_TIMEOUT_MS

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


TS = UtcDateTime()
ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrement needs INTEGER

counters = Table(
    "counters",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

people = Table(
    "people",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("roles", JSON, nullable=False),
    Column("region", String(100), nullable=False, default=""),
    Column("skills", JSON, nullable=False),
    Column("on_duty", Boolean, nullable=False, default=True),
    Column("max_open", Integer, nullable=False, default=8),
    Column("phone", String(40), nullable=False, default=""),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", TS, nullable=False),
    Column("prefer_platform", String(16), nullable=False, default="", server_default=""),
    Column("last_platform", String(16), nullable=False, default="", server_default=""),
)

identities = Table(
    "identities",
    metadata,
    Column("platform", String(16), primary_key=True),
    Column("user_id", String(128), primary_key=True),
    Column("person_id", String(64), ForeignKey("people.id"), nullable=False, index=True),
    Column("display_name", String(200), nullable=False, default=""),
    Column("created_at", TS, nullable=False),
)

tickets = Table(
    "tickets",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=False),
    Column("type", String(64), nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("priority", String(16), nullable=False),
    Column("status", String(32), nullable=False),  # led by the (status, ...) indexes
    Column("requester_id", String(64), ForeignKey("people.id"), nullable=False, index=True),
    Column("assignee_id", String(64), ForeignKey("people.id"), nullable=True, index=True),
    Column("fields", JSON, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("created_at", TS, nullable=False, index=True),
    Column("updated_at", TS, nullable=False),
    Column("first_response_at", TS, index=True),
    Column("arrived_at", TS),
    Column("resolved_at", TS, index=True),
    Column("closed_at", TS, index=True),
    Column("response_due_at", TS),
    Column("resolve_due_at", TS, index=True),
    Column("rating", Integer),
    Column("rating_comment", Text, nullable=False, default=""),
    Column("parts_cost", Float, nullable=False, default=0.0),
    Column("decline_count", Integer, nullable=False, default=0),
    Column("version", Integer, nullable=False, default=0),
    Column("asset_id", String(64), nullable=True, index=True),  # the registered machine
    Index("ix_tickets_status_resolved", "status", "resolved_at"),  # auto-close
    Index("ix_tickets_status_assignee", "status", "assignee_id"),  # engineers' load
    Index("ix_tickets_status_resolve_due", "status", "resolve_due_at"),  # overdue now
)

ticket_history = Table(
    "ticket_history",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("ticket_id", ID, ForeignKey("tickets.id"), nullable=False),
    Column("at", TS, nullable=False),
    Column("actor_id", String(64), nullable=False),
    Column("actor_name", String(200), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("action", String(40), nullable=False),
    Column("data", JSON, nullable=False),
    Index("ix_ticket_history_ticket_at", "ticket_id", "id"),
)

processed_commands = Table(
    "processed_commands",
    metadata,
    Column("source", String(255), primary_key=True),
    Column("at", TS, nullable=False),
)

inbox = Table(
    "inbox",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("platform", String(16), nullable=False),
    Column("dedupe_key", String(255), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("received_at", TS, nullable=False),
    Column("available_at", TS, nullable=False),
    Column("processed_at", TS),
    Column("error", Text, nullable=False, default=""),
    # "<platform>:<user id>": a person's rows are handled one at a time, in order ("": unordered)
    Column("person_key", String(200), nullable=False, default="", server_default=""),
    UniqueConstraint("platform", "dedupe_key", name="uq_inbox_platform_dedupe"),
    Index("ix_inbox_status_available", "status", "available_at"),
    Index(
        "ix_inbox_person_unfinished",
        "person_key",
        "id",
        postgresql_where=text("status IN ('pending', 'working')"),
        sqlite_where=text("status IN ('pending', 'working')"),
    ),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("dedupe_key", String(255), nullable=False, unique=True),
    Column("platform", String(16), nullable=False),
    Column("user_id", String(128), nullable=False, default=""),
    Column("conversation_id", String(128), nullable=False, default=""),
    Column("kind", String(16), nullable=False),
    Column("card_key", String(128), nullable=False, default=""),
    Column("ticket_id", ID, nullable=True),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", TS, nullable=False),
    Column("due_at", TS, nullable=False),
    Column("sent_at", TS),
    Column("error", Text, nullable=False, default=""),
    Index("ix_outbox_status_due", "status", "due_at"),
    Index(  # a claim checks each due row for an unfinished earlier one to the same recipient
        "ix_outbox_recipient_unfinished",
        "platform",
        "user_id",
        "conversation_id",
        "id",
        postgresql_where=text("status IN ('pending', 'working')"),
        sqlite_where=text("status IN ('pending', 'working')"),
    ),
)

cards = Table(
    "cards",
    metadata,
    Column("platform", String(16), primary_key=True),
    Column("card_key", String(128), primary_key=True),
    Column("user_id", String(128), nullable=False, default=""),
    Column("conversation_id", String(128), nullable=False, default=""),
    Column("ticket_id", ID, nullable=True, index=True),
    Column("message_id", String(255), nullable=False, default=""),
    Column("response_code", String(255), nullable=False, default=""),
    Column("finished", Boolean, nullable=False, default=False),
    Column("receipt", JSON, nullable=False),
    Column("updated_at", TS, nullable=False),
)

parts = Table(
    "parts",
    metadata,
    Column("sku", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("stock", Integer, nullable=False),
    Column("unit_cost", Float, nullable=False),
    Column("min_stock", Integer, nullable=False, default=0),
    Column("unit", String(16), nullable=False, default="个"),
    Column("updated_at", TS, nullable=False),
)

part_requests = Table(
    "part_requests",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("ticket_id", ID, ForeignKey("tickets.id"), nullable=False, index=True),
    Column("requested_by", String(64), nullable=False),
    Column("lines", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("decided_by", String(64)),
    Column("decided_at", TS, index=True),
    Column("reason", Text, nullable=False, default=""),
    Column("cost", Float, nullable=False, default=0.0),
    Column("created_at", TS, nullable=False),
)

dialogs = Table(
    "dialogs",
    metadata,
    Column("platform", String(16), primary_key=True),
    Column("user_id", String(128), primary_key=True),
    Column("state", JSON, nullable=False),
    Column("expires_at", TS, nullable=False),
)

kb_articles = Table(
    "kb_articles",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("title", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("product", String(100), nullable=False, default=""),
    Column("updated_at", TS, nullable=False),
    Column("status", String(16), nullable=False, default="published", index=True),
    Column("author", String(64), nullable=False, default=""),
    Column("views", Integer, nullable=False, default=0),
    Column("helpful", Integer, nullable=False, default=0),
    Column("unhelpful", Integer, nullable=False, default=0),
    Column("source_ticket_id", BigInteger),  # drafted from this ticket (存为知识)
    Column("created_at", TS),
)

kb_events = Table(  # searches, views, votes, suggestions and deflections, for the reports
    "kb_events",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # search view helpful unhelpful suggest ...
    Column("article_id", String(64)),
    Column("query", Text, nullable=False, default=""),
    Column("person_id", String(64), nullable=False, default=""),
    Column("channel", String(16), nullable=False, default=""),
    Column("hits", Integer, nullable=False, default=0),
    Column("at", TS, nullable=False),
    Index("ix_kb_events_kind_at", "kind", "at"),
)

sla_clocks = Table(  # one SLA target of a ticket: its due and warn times and what happened
    "sla_clocks",
    metadata,
    Column("ticket_id", ID, ForeignKey("tickets.id"), primary_key=True),
    Column("name", String(16), primary_key=True),  # response | arrival | resolve
    Column("calendar", String(64), nullable=False),
    Column("minutes", Integer, nullable=False),
    Column("warn_seconds", Integer, nullable=False),
    Column("started_at", TS, nullable=False),
    Column("due_at", TS),  # null while paused
    Column("warn_at", TS),
    Column("met_at", TS, index=True),
    Column("stopped", Boolean, nullable=False, default=False),
    Column("pauses", JSON, nullable=False),  # [{"from", "to", "status"}]
    Column("policy", String(32), nullable=False),  # fingerprint of policy + calendar
    Column("warned_at", TS),
    Column("breached_at", TS, index=True),
    Column("check_at", TS, index=True),  # when the scan must look next; null: never
)

offers = Table(  # who was offered a ticket (direct assignment or pool), and how it ended
    "offers",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("ticket_id", ID, ForeignKey("tickets.id"), nullable=False, index=True),
    Column("round", Integer, nullable=False),
    Column("person_id", String(64), nullable=False),
    Column("card_key", String(128), nullable=False),
    Column("mode", String(16), nullable=False),  # direct | pool
    Column("status", String(16), nullable=False),  # open accepted declined expired taken ...
    Column("offered_at", TS, nullable=False),
    Column("assigned_at", TS),  # when the person became the assignee (round robin)
    Column("closed_at", TS),
    Column("reason", Text, nullable=False, default=""),
    UniqueConstraint("ticket_id", "round", "person_id", name="uq_offers_ticket_round_person"),
    Index("ix_offers_status_offered", "status", "offered_at"),
    Index("ix_offers_person_assigned", "person_id", "assigned_at"),
)

media = Table(
    "media",
    metadata,
    Column("platform", String(16), primary_key=True),
    Column("media_id", String(255), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size", Integer, nullable=False),
    Column("fetched_at", TS, nullable=False),
)


assets = Table(  # the asset registry (CONTRACT §10): one row per machine, by nameplate number
    "assets",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("key", String(64), nullable=False, unique=True),  # upper-cased id: lookups ignore case
    Column("model", String(200), nullable=False),
    Column("customer", String(200), nullable=False, default=""),
    Column("site_address", String(500), nullable=False, default=""),
    Column("region", String(100), nullable=False, default=""),
    Column("install_date", Date, nullable=True),
    Column("warranty_end", Date, nullable=True),
    Column("contract_end", Date, nullable=True),
    Column("notes", Text, nullable=False, default=""),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
)

asset_tokens = Table(  # the scan-to-report tokens in the QR codes; revoked ones stay refused
    "asset_tokens",
    metadata,
    Column("token", String(64), primary_key=True),
    Column("asset_id", String(64), ForeignKey("assets.id"), nullable=False, index=True),
    Column("created_at", TS, nullable=False),
    Column("revoked_at", TS, nullable=True),
)

signoffs = Table(  # one signing link per completion (round); signed once
    "signoffs",
    metadata,
    Column("token", String(64), primary_key=True),
    Column("ticket_id", ID, ForeignKey("tickets.id"), nullable=False, index=True),
    Column("round", Integer, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("signed_at", TS, nullable=True),
    Column("signer", String(100), nullable=False, default=""),
    Column("image_sha256", String(64), nullable=False, default=""),
)

settlements = Table(  # the settlement of a closed ticket; amounts are decimal strings (yuan)
    "settlements",
    metadata,
    Column("ticket_id", ID, ForeignKey("tickets.id"), primary_key=True),
    Column("customer", String(200), nullable=False, default="", index=True),
    Column("engineer_id", String(64), nullable=False, default=""),
    Column("closed_at", TS, nullable=False, index=True),
    Column("lines", JSON, nullable=False),
    Column("total", String(20), nullable=False),
    Column("customer_pays", String(20), nullable=False),
    Column("free_reason", String(16), nullable=False, default=""),
    Column("labour_minutes", Integer, nullable=False, default=0),
    Column("created_at", TS, nullable=False),
)


cache_entries = Table(  # the cache while Redis is unreachable (core/cache_db.py); locks are rows
    "cache_entries",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("value", Text, nullable=False),
    Column("expires_at", TS),  # NULL: never expires
    Index("ix_cache_entries_expires_at", "expires_at"),
)


COUNTERS = ("ticket", "customer")


_NEXT_COUNTER = (  # built once: a chat turn from a new customer runs it
    update(counters)
    .where(counters.c.name == bindparam("counter_name"))
    .values(value=counters.c.value + 1)
    .returning(counters.c.value)
)


async def next_counter(conn: AsyncConnection, name: str) -> int:
    """Increment a counter row (seeded by the first migration) under its row lock."""
    result = await conn.execute(_NEXT_COUNTER, {"counter_name": name})
    value = result.scalar()
    if value is None:
        raise RuntimeError(f"counter {name} missing: run `chatdesk migrate`")
    return int(value)


CUSTOMER_SEQUENCE = "customer_numbers"  # PostgreSQL only (migration 0012)


async def next_customer_number(conn: AsyncConnection) -> int:
    """The next customer number: a sequence on PostgreSQL (no lock held until commit, so
    concurrent first messages from new people do not queue behind each other; a number may be
    skipped), the counter row on SQLite (one writer anyway)."""
    if conn.dialect.name == "postgresql":
        value = (await conn.execute(text(f"SELECT nextval('{CUSTOMER_SEQUENCE}')"))).scalar()
        return int(value or 0)
    return await next_counter(conn, "customer")


def make_engine(
    url: str,
    *,
    echo: bool = False,
    synchronous: Literal["FULL", "NORMAL"] = "FULL",
    inline: bool = False,
) -> AsyncEngine:
    """``synchronous`` (SQLite): FULL syncs the write-ahead log at every commit; NORMAL leaves
    it to the next FULL commit of any process or to the checkpoint, so a power cut (not a
    crash of the process) may undo the last commits (the worker process's choice: see
    WorkerSettings.sqlite_synchronous). ``inline`` (SQLite): statements run on the event
    loop's thread instead of aiosqlite's, for a process whose loop waits on nothing else
    (core/sqlite_inline.py)."""
    if url.startswith("sqlite"):
        from sqlalchemy import event

        # One connection per process: SQLite has one writer, and two connections of one
        # process taking turns at the write lock wait in SQLite's busy handler (sleeps of up
        # to 100 ms) where one connection handed over by the pool's FIFO queue waits not at
        # all. Other processes (serve's web side, its worker) still meet the busy handler.
        extra: dict[str, Any] = {}
        if inline:  # without aiosqlite's thread (core/sqlite_inline.py): worker processes
            from core import sqlite_inline

            parsed = make_url(url)
            cargs, cparams = parsed.get_dialect()().create_connect_args(parsed)
            cparams["timeout"] = 30
            extra["async_creator"] = lambda: sqlite_inline.connect(*cargs, **cparams)
        engine = create_async_engine(
            url,
            echo=echo,
            connect_args={"timeout": 30},
            **extra,
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.close()

        return engine
    # No ping before each checkout (a round trip per transaction): connections are recycled
    # after half an hour, one found dead is invalidated by the pool when it fails, and the
    # callers retry (the inbox writer at once, the workers with backoff).
    return create_async_engine(url, echo=echo, pool_size=10, max_overflow=20, pool_recycle=1800)


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"
