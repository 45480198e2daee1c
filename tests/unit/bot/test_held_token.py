"""A platform token held in process memory in front of the shared cache (bot/held_token.py)."""

from __future__ import annotations

from bot.held_token import HOLD_S, HeldToken


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_token_is_held_for_a_while_then_asked_for_again() -> None:
    clock = Clock()
    held = HeldToken(clock)
    assert held.get() is None
    held.hold("t1")
    clock.now += HOLD_S - 1
    assert held.get() == "t1"
    clock.now += 2
    assert held.get() is None  # back to the shared cache


def test_a_short_lived_token_is_held_no_longer_than_it_lives() -> None:
    clock = Clock()
    held = HeldToken(clock)
    held.hold("t1", ttl=5)
    clock.now += 6
    assert held.get() is None


def test_a_refused_token_is_dropped_but_not_a_newer_one() -> None:
    held = HeldToken(Clock())
    held.hold("t2")
    held.drop("t1")  # another call's refusal of the token before
    assert held.get() == "t2"
    held.drop("t2")
    assert held.get() is None
    held.hold("t3")
    held.drop()
    assert held.get() is None
