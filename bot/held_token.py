"""A platform access token kept in process memory in front of the shared cache.

Every API call needs the token, and reading it from the shared cache (Redis) cost a round trip
per message sent, about 0.1 ms of the worker's CPU. The shared cache stays the source
(single-flight refresh across instances); a process uses the token it last saw for at most
``HOLD_S``. That is well inside the margin the shared entry keeps before the platform's own
expiry (5 minutes on WeCom and DingTalk), and a token the platform refuses earlier (another
instance refreshed it, a secret changed) is dropped and refreshed through the shared cache as
before.
"""

from __future__ import annotations

import time
from collections.abc import Callable

HOLD_S = 60.0
# A call tries at most this many tokens. A refused token is replaced through the shared cache,
# which may give another instance's token, refused in turn when the platform expired that one
# too (a process holding the one before it learns of both at once); only a token just fetched
# from the platform being refused means the credentials themselves are wrong (AuthExpired).
TOKEN_TRIES = 3


class HeldToken:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._token = ""
        self._until = 0.0

    def get(self) -> str | None:
        """The token held, while it may still be used without asking the shared cache."""
        if self._token and self._clock() < self._until:
            return self._token
        return None

    def hold(self, token: str, ttl: float | None = None) -> None:
        """Keep ``token`` for ``HOLD_S`` seconds, or less when its own ``ttl`` is shorter."""
        self._token = token
        self._until = self._clock() + (HOLD_S if ttl is None else min(HOLD_S, ttl))

    def drop(self, token: str | None = None) -> None:
        """Forget the token held (only if it is ``token``, when given)."""
        if token is None or token == self._token:
            self._token, self._until = "", 0.0
