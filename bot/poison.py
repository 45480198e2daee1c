"""Inbox rows that cannot succeed: tell them from passing trouble, say why, answer the sender.

A row whose payload does not load, whose sender is not one person's id, or whose handling hits
a bug or a data error fails the same way on every try; retrying it only repeats the traceback
and keeps the person waiting. Only trouble that may pass (the database or the network away, a
lock, a timeout, a unique key lost to a concurrent writer, a knowledge index that kept
changing while it was rebuilt) is worth a retry.
"""

from __future__ import annotations

import asyncio
import traceback
from typing import Any

from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)

from bot import texts
from core.kb.search import IndexOutOfDate
from core.people.ids import valid_user_id


class Poison(Exception):
    """This row can never be processed (``reason`` says why, in one line)."""


def transient(exc: BaseException) -> bool:
    """True for failures that may pass on their own, so a later try may succeed."""
    if isinstance(exc, OperationalError | InterfaceError | DisconnectionError):
        return True
    if isinstance(exc, IntegrityError):  # lost a race for a unique key: the retry finds it
        return True
    if isinstance(exc, IndexOutOfDate):  # articles changed during every rebuild: a later try
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OSError | TimeoutError | asyncio.TimeoutError | ConnectionError)


def one_line(exc: BaseException) -> str:
    """``Type: message (file:line)`` of the innermost frame, for a single log line."""
    message = " ".join(str(exc).split())[:300]
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({frames[-1].filename.rsplit('/', 2)[-1]}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {message}{where}"


def sender(payload: Any) -> tuple[str, str] | None:
    """Whom to answer about a failed row: its platform and user id, when both are sound."""
    if not isinstance(payload, dict):
        return None
    platform, user_id = payload.get("platform"), payload.get("user_id")
    if isinstance(platform, str) and isinstance(user_id, str) and valid_user_id(platform, user_id):
        return platform, user_id
    return None


REPLY = texts.CANNOT_PROCESS
