"""Who may open /dashboard: signed short-lived links from the bot, sessions, API tokens.

A link (``/dashboard?k=…``) names a manager and expires after ``LINK_TTL``; opening it (or
signing in with an API token) sets a signed session cookie for ``SESSION_TTL``. Both are HMACs
under the desk's action secret with their own purpose, so a card button cannot pass for them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta

LINK_TTL = timedelta(hours=1)
SESSION_TTL = timedelta(hours=8)
COOKIE = "chatdesk_dashboard"


def _b64(data: str) -> str:
    return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")


def _unb64(data: str) -> str:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)).decode()


def _sign(secret: bytes, purpose: str, body: str) -> str:
    mac = hmac.new(secret, f"dashboard|{purpose}|{body}".encode(), hashlib.sha256)
    return mac.hexdigest()[:40]


def issue(secret: bytes, purpose: str, subject: str, *, now: datetime, ttl: timedelta) -> str:
    """``<subject b64>.<expiry epoch>.<mac>`` for ``purpose`` (link | session)."""
    body = f"{_b64(subject)}.{int((now + ttl).timestamp())}"
    return f"{body}.{_sign(secret, purpose, body)}"


def verify(secret: bytes, purpose: str, token: str, *, now: datetime) -> str | None:
    """The subject of a genuine, unexpired token, else None."""
    if not token.isascii() or len(token) > 400 or token.count(".") != 2:
        return None
    body, mac = token.rsplit(".", 1)
    if not hmac.compare_digest(_sign(secret, purpose, body), mac):
        return None
    subject_b64, expiry = body.split(".")
    if not expiry.isdigit() or int(expiry) < now.timestamp():
        return None
    try:
        return _unb64(subject_b64)
    except (ValueError, UnicodeDecodeError):
        return None


def dashboard_link(secret: bytes, base_url: str, person_id: str, *, now: datetime) -> str:
    token = issue(secret, "link", f"p:{person_id}", now=now, ttl=LINK_TTL)
    return f"{base_url.rstrip('/')}/dashboard?k={token}"
