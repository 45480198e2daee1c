"""Unguessable links to one ticket's public page (/p/<id>.<mac>): an HMAC of the ticket id with
the installation's secret, so a link for #5 can never be turned into one for #6."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

_TOKEN = re.compile(r"^(\d{1,12})\.([A-Za-z0-9_-]{22})$")


def _mac(secret: bytes, ticket_id: int) -> str:
    digest = hmac.new(secret, f"ticket-page:{ticket_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:22]  # 132 bits


def ticket_token(secret: bytes, ticket_id: int) -> str:
    return f"{ticket_id}.{_mac(secret, ticket_id)}"


def ticket_from_token(secret: bytes, token: str) -> int | None:
    m = _TOKEN.match(token)
    if not m:
        return None
    ticket_id = int(m.group(1))
    return ticket_id if hmac.compare_digest(m.group(2), _mac(secret, ticket_id)) else None


def ticket_url(base: str, secret: bytes, ticket_id: int) -> str:
    return f"{base.rstrip('/')}/p/{ticket_token(secret, ticket_id)}"
