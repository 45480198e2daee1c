"""Business-time arithmetic: pure functions, no I/O.

A day is a working day when it is listed in ``extra_workdays``, or else when it is not in
``extra_holidays``, not a statutory holiday (with ``holidays: cn``, from chinese-calendar,
which also knows the make-up working days 调休), and has working hours on its weekday.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from core.settings import CalendarConfig

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MAX_DAYS = 3660  # never search more than ten years ahead


def _cn_workday(day: date) -> bool | None:
    """chinese-calendar's answer, or None when the year is outside its tables."""
    import chinese_calendar

    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


@lru_cache(maxsize=64)
def _spans(hours: tuple[str, ...]) -> tuple[tuple[time, time], ...]:
    out = []
    for span in hours:
        start, end = span.split("-")
        end_t = time(23, 59, 59, 999999) if end == "24:00" else time.fromisoformat(end)
        out.append((time.fromisoformat(start), end_t))
    return tuple(sorted(out))


def working_spans(cal: CalendarConfig, day: date) -> tuple[tuple[time, time], ...]:
    weekday_hours = tuple(cal.hours.get(_WEEKDAYS[day.weekday()], []))  # type: ignore[call-overload]
    if day in cal.extra_workdays:
        # a make-up working day borrows the Monday–Friday pattern when its weekday has none
        return _spans(weekday_hours or tuple(cal.hours.get("mon", [])))
    if day in cal.extra_holidays:
        return ()
    if cal.holidays == "cn":
        official = _cn_workday(day)
        if official is False:
            return ()
        if official is True and not weekday_hours:
            return _spans(tuple(cal.hours.get("mon", [])))  # 调休: a weekend that is worked
    return _spans(weekday_hours)


def add_business_minutes(cal: CalendarConfig, start: datetime, minutes: int) -> datetime:
    """The instant ``minutes`` working minutes after ``start`` (aware), in the calendar's zone."""
    if start.tzinfo is None:
        raise ValueError("start must carry a time zone")
    if minutes < 0:
        raise ValueError("minutes must not be negative")
    tz = ZoneInfo(cal.timezone)
    local = start.astimezone(tz)
    remaining = timedelta(minutes=minutes)
    day = local.date()
    for _ in range(_MAX_DAYS):
        for begin, end in working_spans(cal, day):
            span_start = datetime.combine(day, begin, tz)
            # "24:00" ends at the next midnight, not a microsecond before it
            span_end = (
                datetime.combine(day + timedelta(days=1), time(0), tz)
                if end == time.max
                else datetime.combine(day, end, tz)
            )
            cursor = max(span_start, local)
            if cursor >= span_end:
                continue
            available = span_end - cursor
            if remaining <= available:
                return cursor + remaining
            remaining -= available
        day += timedelta(days=1)
    raise ValueError("calendar has no working time in the next ten years")
