"""Builds a Card from the intent the core wrote to the outbox.

The core knows no cards: it writes ``{"builder": name, "args": {...}, "status": "..."}`` and a
deterministic card key. The relay calls :func:`build` with a :class:`cards.actions.Signer` for
the card's recipient (the signing key, that person, an expiry). Each card module exposes
``BUILDERS``: name -> function(args, key, signer) -> Card.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cards import approvals, completion, kb, sla, summary, tickets
from cards.actions import Signer
from cards.model import Card
from cards.tickets import finished

Builder = Callable[[dict[str, Any], str, Signer], Card]
BUILDERS: dict[str, Builder] = {}
for module in (tickets, completion, summary, approvals, kb, sla):
    BUILDERS.update(module.BUILDERS)


class UnknownCard(ValueError):
    pass


def build(intent: dict[str, Any], *, key: str, secret: Signer) -> Card:
    """A neutral Card from an outbox intent, or a stored Card dump (``{"key": ...}``)."""
    if "builder" not in intent:
        return Card.model_validate(intent)
    builder = BUILDERS.get(intent["builder"])
    if builder is None:
        raise UnknownCard(intent["builder"])
    card = builder(intent.get("args", {}), key, secret)
    status = intent.get("status", "")
    return finished(card, status) if status else card
