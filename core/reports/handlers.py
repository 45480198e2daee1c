"""Report commands: the managers' daily digest (the same card as 统计 今天)."""

from __future__ import annotations

import hashlib
from zoneinfo import ZoneInfo

from core import notify
from core.bus import Context
from core.errors import Forbidden
from core.reports.commands import SendDailyDigest
from core.reports.summary import summary_card_args


def digest_key(day: str, person_id: str) -> str:
    """One card per manager per local day (person ids may hold characters card keys cannot)."""
    return f"digest_{day}_{hashlib.sha1(person_id.encode()).hexdigest()[:12]}"


async def send_daily_digest(cmd: SendDailyDigest, ctx: Context) -> int:
    """Send today's summary card to every manager, once per local day; returns how many."""
    if not cmd.actor.has("admin"):
        raise Forbidden("抱歉，只有系统可以发送每日汇总。")
    conn = getattr(ctx.uow, "conn", None)
    if conn is None:
        raise RuntimeError("the daily digest needs a database unit of work")
    now = ctx.clock.now()
    args = await summary_card_args(conn, period="today", now=now, config=ctx.config)
    day = now.astimezone(ZoneInfo(ctx.config.timezone)).strftime("%Y%m%d")
    sent = 0
    for person_id in await notify.people_with_role(ctx, "manager"):
        sent += await notify.card(
            ctx, person_id, builder="summary", args=args, card_key=digest_key(day, person_id)
        )
    return sent


COMMAND_HANDLERS = {SendDailyDigest: send_daily_digest}
EVENT_HANDLERS: dict[type, list] = {}
