"""OutboxRelay: claim due outbox rows, send them, back off, dead-letter.

- Eager: the relay's loop is woken by each commit that adds outbox rows (bot/wakeup.py);
  polling stays as the fallback.
- Concurrent across recipients, in order within one: the claimed rows are grouped by recipient
  (platform, user, group chat). Recipients are served concurrently, within each platform's
  gate (bot/send_gate.py: a few sends in flight, a pause when the platform is rate-limited or
  down); one recipient's messages go one after the other, and a later one waits while an
  earlier one is in flight or waiting for a retry (core/outbox.py claim_outbox, also across
  relays, whose claims skip each other's rows on PostgreSQL).
- Coalesced: consecutive texts to one person are merged into one message, and past the
  per-person budget a person's messages wait for the next minute, where they are merged (WeCom
  silently drops more than 30 messages a minute to one person).
- Fewer round trips: outcomes are written with group commit (bot/outcomes.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.media import MediaStore
from bot.outbox_send import MAX_COALESCED_CHARS, Sender, check_target, coalesce
from bot.outcomes import Outcomes, autocommit_engine
from bot.ports import AuthExpired, ChatPlatform, Permanent, Retryable
from bot.receipts import load_receipt, remember_response_code, save_receipt
from bot.send_gate import DEFAULT_CONCURRENCY, Paused, PlatformGate
from core import outbox
from core.cache import Cache
from core.clock import Clock
from core.queue import backoff

__all__ = [
    "MAX_COALESCED_CHARS",
    "OutboxRelay",
    "load_receipt",
    "remember_response_code",
    "save_receipt",
]

log = logging.getLogger(__name__)

AUTH_RETRY_S = 30.0
BUDGET_TTL_S = 120  # a person's budget counter lives past its minute, then goes


class OutboxRelay:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        platforms: Mapping[str, ChatPlatform],
        clock: Clock,
        batch: int = 64,
        max_attempts: int = 12,
        lease_s: float = 120,
        action_secret: bytes = b"",
        retry_base_s: float = 2.0,
        retry_cap_s: float = 600.0,
        give_up_after_s: float = 86400.0,
        cache: Cache | None = None,
        per_person_per_minute: int = 20,
        media_store: MediaStore | None = None,
        concurrency: Mapping[str, int] | None = None,
        pause_cap_s: float = 60.0,
    ) -> None:
        self.media_store = media_store
        self.cache = cache
        self.per_person_per_minute = per_person_per_minute
        self.retry_base_s = retry_base_s
        self.retry_cap_s = retry_cap_s
        self.give_up_after_s = give_up_after_s
        self.engine = engine
        self.platforms = platforms
        self.clock = clock
        self.batch = batch
        self.max_attempts = max_attempts
        self.lease_s = lease_s
        self.concurrency = dict(concurrency or {})
        self.pause_cap_s = pause_cap_s
        self.gates: dict[str, PlatformGate] = {}
        self._autocommit = autocommit_engine(engine)  # sent marks on PostgreSQL
        self.sender = Sender(
            engine=engine, clock=clock, action_secret=action_secret, media_store=media_store
        )

    def gate(self, platform: str) -> PlatformGate:
        if platform not in self.gates:
            self.gates[platform] = PlatformGate(
                self.clock,
                concurrency=self.concurrency.get(platform, DEFAULT_CONCURRENCY),
                base_s=self.retry_base_s / 2,  # never longer than a row's own retry would wait
                cap_s=min(self.pause_cap_s, self.retry_cap_s),
            )
        return self.gates[platform]

    async def run_once(self) -> int:
        """Deliver what is due now; returns how many rows were claimed."""
        async with self.engine.begin() as conn:
            rows = await outbox.claim_outbox(
                conn, now=self.clock.now(), limit=self.batch, lease_s=self.lease_s
            )
        if not rows:
            return 0
        outcomes = Outcomes(self.engine, self.clock, self._autocommit)
        recipients = _by_recipient(rows)
        places = await self._take_budget(recipients)
        chains = [self._chain(groups, outcomes, *budget) for groups, budget in places]
        for failed in await asyncio.gather(*chains, return_exceptions=True):
            if isinstance(failed, Exception):  # its rows come back when their lease ends
                log.error("outbox delivery stopped for one recipient", exc_info=failed)
        await outcomes.drain()
        return len(rows)

    async def _chain(
        self,
        groups: list[list[dict[str, Any]]],
        outcomes: Outcomes,
        budget: str | None,
        places: int,
    ) -> None:
        """One recipient's messages, in order; after one that must wait, the rest wait too.
        ``places``: how many of them the person's budget lets go now (under ``budget``)."""
        used = 0
        try:
            for i, group in enumerate(groups):
                if i >= places:  # past the budget: wait for the next minute, merged there
                    hold = self.clock.now().replace(second=0, microsecond=0) + timedelta(minutes=1)
                    outcomes.defer([row for later in groups[i:] for row in later], hold)
                    return
                hold, sent = await self._deliver(group, outcomes)
                used += sent
                if hold is not None:
                    outcomes.defer([row for later in groups[i + 1 :] for row in later], hold)
                    return
        finally:
            if budget is not None and min(places, len(groups)) > used:
                await self._give_back(budget, min(places, len(groups)) - used)

    async def _take_budget(
        self, recipients: list[list[list[dict[str, Any]]]]
    ) -> list[tuple[list[list[dict[str, Any]]], tuple[str | None, int]]]:
        """WeCom drops messages beyond 30 a minute to one person, silently. Each message of
        the claim takes its place in its person's budget for this minute before it is sent,
        all in one cache round trip; a place is given back unless the platform took the
        message (failed attempts spend nothing). Returns each recipient's messages with its
        budget key and how many of them may go now."""
        keys = [self._budget_key(groups[0][0]) for groups in recipients]
        wanted: dict[str, int] = {}
        for key, groups in zip(keys, recipients, strict=True):
            if key is not None:
                wanted[key] = wanted.get(key, 0) + len(groups)
        if not wanted or self.cache is None:
            return [(groups, (None, len(groups))) for groups in recipients]
        counts = await self.cache.incr_many(wanted, ttl=BUDGET_TTL_S)
        out: list[tuple[list[list[dict[str, Any]]], tuple[str | None, int]]] = []
        over: dict[str, int] = {}
        for key, groups in zip(keys, recipients, strict=True):
            if key is None:
                out.append((groups, (None, len(groups))))
                continue
            taken = counts[key] - wanted[key]  # before this recipient's messages
            counts[key] += len(groups)  # (one key is one recipient; this only guards it)
            places = max(0, min(len(groups), self.per_person_per_minute - taken))
            if places < len(groups):
                over[key] = over.get(key, 0) - (len(groups) - places)
            out.append((groups, (key, places)))
        if over:
            await self._give_back_many(over)
        return out

    async def _give_back(self, key: str, places: int) -> None:
        await self._give_back_many({key: -places})

    async def _give_back_many(self, amounts: dict[str, int]) -> None:
        if self.cache is None:
            return
        try:
            await self.cache.incr_many(amounts, ttl=BUDGET_TTL_S)
        except Exception:  # the budget only errs on the safe side (places counted more)
            log.warning("could not give back per-person budget places", exc_info=True)

    async def _deliver(
        self, group: list[dict[str, Any]], outcomes: Outcomes
    ) -> tuple[datetime | None, bool]:
        """Send one message; returns when the recipient's next messages may go, if not now,
        and whether the platform took it."""
        head = group[0]
        ids = [r["id"] for r in group]
        platform = self.platforms.get(head["platform"])
        if platform is None:
            return self._dead(
                outcomes, ids, f"platform {head['platform']} is not configured"
            ), False
        gate = self.gate(head["platform"])
        try:
            check_target(head)
            async with gate.slot() as generation:
                try:
                    receipt = await self.sender.send(platform, head, group)
                except (Retryable, AuthExpired) as exc:
                    hint = exc.retry_after if isinstance(exc, Retryable) else AUTH_RETRY_S
                    trips, resume = gate.trips, gate.trip(generation, hint)
                    if gate.trips != trips:  # the first of a burst: one line per pause
                        log.warning(
                            "%s paused until %s (failure %s in a row): %s",
                            head["platform"],
                            resume.isoformat(timespec="seconds"),
                            gate.failures,
                            exc,
                        )
                    raise _Failed(exc, max(hint or 0.0, self._seconds_until(resume))) from exc
                except Permanent:
                    gate.ok()  # the platform answered: refusing this one message
                    raise
                gate.ok()
                card_receipt = receipt if head["card_key"] else None
                # the slot is held until the row is marked sent: a crash can only send again
                # what is in the platform's slots (and a card's update finds its receipt)
                await outcomes.sent(ids, card_receipt, ticket_id=head["ticket_id"])
        except Paused as paused:
            outcomes.defer(group, paused.until)
            return paused.until, False
        except _Failed as failed:
            label = "auth expired" if isinstance(failed.cause, AuthExpired) else "retryable"
            return self._retry(outcomes, group, f"{label}: {failed.cause}", failed.hint), False
        except Permanent as exc:
            return self._dead(outcomes, ids, f"permanent: {exc}"), False
        except Exception as exc:  # a bug in a renderer must not stop the relay
            log.exception("outbox delivery failed unexpectedly for rows %s", ids)
            error = f"error: {type(exc).__name__}: {exc}"
            return self._retry(outcomes, group, error, None), False
        return None, True

    def _seconds_until(self, at: datetime) -> float:
        return max((at - self.clock.now()).total_seconds(), 0.0)

    def _budget_key(self, head: dict[str, Any]) -> str | None:
        """Only what reached the platform counts: failed attempts spend nothing."""
        if self.cache is None or not head["user_id"] or head["conversation_id"]:
            return None
        if head["kind"] == "fetch_media":
            return None
        minute = self.clock.now().strftime("%Y%m%d%H%M")
        return f"outbox:rate:{head['platform']}:{head['user_id']}:{minute}"

    def _retry(
        self, outcomes: Outcomes, group: list[dict[str, Any]], error: str, hint: float | None
    ) -> datetime | None:
        """The group waits together; rows too old or tried too often are dead-lettered."""
        now = self.clock.now()
        give_up = [
            r
            for r in group
            if r["attempts"] >= self.max_attempts
            or (now - r["created_at"]).total_seconds() > self.give_up_after_s
        ]
        if give_up:
            ids = [r["id"] for r in give_up]
            log.warning("outbox rows %s dead-lettered after %s attempts", ids, group[0]["attempts"])
            outcomes.dead(ids, f"gave up: {error}")
        waiting = [r for r in group if r not in give_up]
        if not waiting:
            return None
        attempts = max(r["attempts"] for r in waiting)
        delay = backoff(attempts, base=self.retry_base_s, cap=self.retry_cap_s, hint=hint)
        outcomes.retry(waiting, error, now + timedelta(seconds=delay))
        return now  # the rest wait behind the retried rows (claim_outbox keeps the order)

    def _dead(self, outcomes: Outcomes, ids: list[int], error: str) -> None:
        log.warning("outbox rows %s dead-lettered: %s", ids, error)
        outcomes.dead(ids, error)


class _Failed(Exception):
    def __init__(self, cause: Exception, hint: float) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.hint = hint


def _by_recipient(rows: list[dict[str, Any]]) -> list[list[list[dict[str, Any]]]]:
    """Each recipient's rows (in id order) as its messages; media downloads stand alone."""
    chains: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        if row["kind"] == "fetch_media":
            key: tuple[Any, ...] = ("media", row["id"])
        else:
            key = (row["platform"], row["user_id"], row["conversation_id"])
        chains.setdefault(key, []).append(row)
    return [coalesce(chain) for chain in chains.values()]
