"""KPIs for the managers' summary card (filled in by the service-desk loop issue)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from core.settings import DeskConfig


async def summary_card_args(
    conn: AsyncConnection, *, period: str, now: datetime, config: DeskConfig
) -> dict[str, Any]:
    """The arguments of the ``summary`` card builder for ``period`` (today | week | month)."""
    raise NotImplementedError
