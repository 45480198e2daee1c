"""The scheduler's scan slots (webhooks/scheduler.py): a tick's command carries its slot, and a
second tick in the same slot (another instance, or a late one) changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from webhooks.scheduler import scan_slot

T0 = datetime(2026, 12, 2, 8, 0, 0, tzinfo=UTC)


def test_ticks_of_one_interval_share_a_slot_and_the_next_interval_gets_its_own() -> None:
    assert scan_slot(T0, 20) == scan_slot(T0 + timedelta(seconds=19.9), 20)
    assert scan_slot(T0 + timedelta(seconds=20), 20) != scan_slot(T0, 20)
    slots = {scan_slot(T0 + timedelta(seconds=20 * i), 20) for i in range(3)}
    assert len(slots) == 3  # a scan every 20 s acts every 20 s, not once a minute


def test_the_default_minute_slot_turns_at_the_minute_whatever_the_timezone() -> None:
    shanghai = T0.astimezone(timezone(timedelta(hours=8)))
    assert scan_slot(shanghai, 60) == scan_slot(T0 + timedelta(seconds=59), 60)
    assert scan_slot(T0 - timedelta(seconds=1), 60) != scan_slot(T0, 60)


def test_instances_with_different_short_intervals_never_share_a_slot() -> None:
    assert scan_slot(T0, 60) != scan_slot(T0, 30)
    assert scan_slot(T0, 0.5) != scan_slot(T0, 1)


def test_with_a_long_interval_a_scan_out_of_turn_still_acts_once_the_minute_changed() -> None:
    assert scan_slot(T0, 3600) == scan_slot(T0, 60)
    assert scan_slot(T0 + timedelta(minutes=6), 3600) != scan_slot(T0, 3600)
