"""Business-time arithmetic: pure functions, no I/O.

A day is a working day when it is listed in ``extra_workdays``, or else when it is not in
``extra_holidays``, not a statutory holiday (with ``holidays: cn``, from chinese-calendar,
which also knows the make-up working days 调休), and has working hours on its weekday.
"""

from __future__ import annotations

import logging
from bisect import bisect_left, bisect_right
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from zoneinfo import ZoneInfo

from core.settings import CalendarConfig

log = logging.getLogger(__name__)

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MAX_DAYS = 3660  # never search more than ten years ahead


def _package_version() -> str:
    try:
        return version("chinese-calendar")
    except PackageNotFoundError:  # pragma: no cover - it is a dependency
        return "unknown"


DATA_VERSION = _package_version()  # part of a clock's fingerprint: an upgrade recomputes
_fallback_years: set[int] = set()


def covered_years() -> tuple[int, int]:
    """The first and last year chinese-calendar has holiday data for."""
    from chinese_calendar import constants

    years = [d.year for d in constants.holidays] + [d.year for d in constants.workdays]
    return min(years), max(years)


def uncovered_years(years: range) -> list[int]:
    first, last = covered_years()
    return [y for y in years if y < first or y > last]


def _cn_workday(day: date) -> bool | None:
    """chinese-calendar's answer, or None when the year is outside its tables (then the
    weekly pattern alone decides: weekends off, no holidays; logged once per year)."""
    try:
        return _cn_answer(day)
    except NotImplementedError:
        if day.year not in _fallback_years:
            _fallback_years.add(day.year)
            log.warning(
                "chinese-calendar %s has no holiday data for %s: counting weekends only that "
                "year; upgrade it (pip install -U 'chinese-calendar>%s') once the State Council "
                "has published the year's arrangement",
                DATA_VERSION,
                day.year,
                DATA_VERSION,
            )
        return None


@lru_cache(maxsize=8192)
def _cn_answer(day: date) -> bool:
    """chinese-calendar's answer for a day of a year it covers, remembered (it checks its
    coverage on every call); a year it does not cover raises every time (not remembered)."""
    import chinese_calendar

    return bool(chinese_calendar.is_workday(day))


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


def _day_spans(cal: CalendarConfig, day: date, tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The day's working spans as aware instants ("24:00" ends at the next midnight)."""
    out = []
    for begin, end in working_spans(cal, day):
        span_end = (
            datetime.combine(day + timedelta(days=1), time(0), tz)
            if end == time.max
            else datetime.combine(day, end, tz)
        )
        out.append((datetime.combine(day, begin, tz), span_end))
    return out


class WorkingTime:
    """Working-time sums in one calendar, with what they need remembered: each day's working
    spans as aware instants, each instant asked for (``after``) and the working time of each
    run of whole days. The clocks of every ticket opened this week walk the same few days, a
    ticket's response clock is asked for by every card about it and again before the commit,
    and the time left until (or since) a due time counts the same whole days all day. Found by
    what the calendar says (:func:`working_time`): a calendar that changes, or a reloaded
    config's, is another one."""

    __slots__ = ("_after", "_cal", "_spans", "_whole", "tz")

    def __init__(self, cal: CalendarConfig) -> None:
        self._cal = cal.model_copy(deep=True)  # what it said when first asked
        self.tz = ZoneInfo(cal.timezone)
        self._spans: dict[date, tuple[tuple[datetime, datetime], ...]] = {}
        self._after: dict[tuple[datetime, timedelta], datetime] = {}
        self._whole: dict[tuple[date, date], timedelta] = {}

    def after(self, start: datetime, amount: timedelta) -> datetime:
        """The instant ``amount`` of working time after ``start`` (aware), in the calendar's
        zone."""
        if start.tzinfo is None:
            raise ValueError("start must carry a time zone")
        if amount < _ZERO:
            raise ValueError("minutes must not be negative")
        found = self._after.get((start, amount))
        if found is None:
            if len(self._after) >= _KEPT:
                self._after.clear()
            found = self._after[(start, amount)] = self._walk(start, amount)
        return found

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Working time from ``start`` to ``end`` (both aware); zero when ``end`` is not later.

        The first and the last day are walked span by span; the whole days between are counted
        (:func:`_whole_days`), so a ticket a year overdue costs what one a day overdue does."""
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("start and end must carry a time zone")
        if end <= start:
            return _ZERO
        local_start, local_end = start.astimezone(self.tz), end.astimezone(self.tz)
        first, last = local_start.date(), local_end.date()
        total = _ZERO
        for day in {first, last}:
            for span_start, span_end in self._day(day):
                lo, hi = max(span_start, local_start), min(span_end, local_end)
                if hi > lo:
                    total += hi - lo
        if last - first > _DAY:
            total += self._whole_days(first + _DAY, last - _DAY)
        return total

    def _day(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        found = self._spans.get(day)
        if found is None:
            if len(self._spans) >= _KEPT:
                self._spans.clear()
            found = self._spans[day] = tuple(_day_spans(self._cal, day, self.tz))
        return found

    def _whole_days(self, first: date, last: date) -> timedelta:
        found = self._whole.get((first, last))
        if found is None:
            if len(self._whole) >= _KEPT:
                self._whole.clear()
            found = self._whole[(first, last)] = _whole_days(self._cal, first, last)
        return found

    def _walk(self, start: datetime, amount: timedelta) -> datetime:
        local = start.astimezone(self.tz)
        remaining = amount
        day = local.date()
        for _ in range(_MAX_DAYS):
            for span_start, span_end in self._day(day):
                cursor = max(span_start, local)
                if cursor >= span_end:
                    continue
                available = span_end - cursor
                if remaining <= available:
                    return cursor + remaining
                remaining -= available
            day += _DAY
        raise ValueError("calendar has no working time in the next ten years")


_ZERO, _DAY = timedelta(0), timedelta(days=1)
_KEPT = 4096  # days, instants and runs of days per calendar (cleared when full)
_CALENDARS_KEPT = 64
_known: dict[tuple[object, ...], WorkingTime] = {}


def working_time(cal: CalendarConfig) -> WorkingTime:
    """Working-time sums in a calendar with exactly these settings."""
    key = (
        cal.timezone,
        cal.holidays,
        tuple((day, tuple(spans)) for day, spans in cal.hours.items()),
        tuple(cal.extra_workdays),
        tuple(cal.extra_holidays),
    )
    found = _known.get(key)
    if found is None:
        if len(_known) >= _CALENDARS_KEPT:
            _known.clear()
        found = _known[key] = WorkingTime(cal)
    return found


def add_business_time(cal: CalendarConfig, start: datetime, amount: timedelta) -> datetime:
    """The instant ``amount`` of working time after ``start`` (aware), in the calendar's zone."""
    return working_time(cal).after(start, amount)


def add_business_minutes(cal: CalendarConfig, start: datetime, minutes: int) -> datetime:
    """The instant ``minutes`` working minutes after ``start`` (aware), in the calendar's zone."""
    if minutes < 0:
        raise ValueError("minutes must not be negative")
    return add_business_time(cal, start, timedelta(minutes=minutes))


def business_time_between(cal: CalendarConfig, start: datetime, end: datetime) -> timedelta:
    """Working time from ``start`` to ``end`` (both aware): :meth:`WorkingTime.between`."""
    return working_time(cal).between(start, end)


def _length(spans: tuple[tuple[time, time], ...]) -> timedelta:
    """A day's working time on the wall clock, as ``_day_spans`` counts it ("24:00" is the
    next midnight)."""
    total = timedelta(0)
    for begin, end in spans:
        stop = timedelta(days=1) if end == time.max else _since_midnight(end)
        total += stop - _since_midnight(begin)
    return total


def _since_midnight(t: time) -> timedelta:
    return timedelta(hours=t.hour, minutes=t.minute, seconds=t.second, microseconds=t.microsecond)


def _week(cal: CalendarConfig, year: int) -> tuple[timedelta, ...]:
    """Each weekday's working time in ``year`` on a day no list names (see ``working_spans``:
    in a year chinese-calendar covers, such a day is a working day Monday to Friday only)."""
    hours = tuple(tuple(cal.hours.get(d, [])) for d in _WEEKDAYS)  # type: ignore[call-overload]
    return _weekly(hours, cal.holidays == "cn" and _cn_covers(year))


@lru_cache(maxsize=64)
def _weekly(hours: tuple[tuple[str, ...], ...], cn_year: bool) -> tuple[timedelta, ...]:
    if cn_year:
        return tuple(_length(_spans(h or hours[0])) if i < 5 else timedelta(0)
                     for i, h in enumerate(hours))  # fmt: skip
    return tuple(_length(_spans(h)) for h in hours)


def _whole_days(cal: CalendarConfig, first: date, last: date) -> timedelta:
    """Working time of the whole days ``first`` to ``last`` (inclusive): per calendar year,
    whole weeks and the weekdays left over from the year's weekly pattern, then each day some
    list names (the calendar's extra days, chinese-calendar's holidays and 调休 make-up working
    days) corrected to what ``working_spans`` says of it."""
    named = _named_days(cal.holidays == "cn", tuple(cal.extra_workdays), tuple(cal.extra_holidays))
    total = timedelta(0)
    for year in range(first.year, last.year + 1):
        lo, hi = max(first, date(year, 1, 1)), min(last, date(year, 12, 31))
        if cal.holidays == "cn" and not _cn_covers(year):
            _cn_workday(lo)  # logs the fallback once for the year, as a walk would
        week = _week(cal, year)
        weeks, rest = divmod((hi - lo).days + 1, 7)
        total += weeks * sum(week, timedelta(0))
        total += sum((week[(lo.weekday() + i) % 7] for i in range(rest)), timedelta(0))
        for day in named[bisect_left(named, lo) : bisect_right(named, hi)]:
            total += _length(working_spans(cal, day)) - week[day.weekday()]
    return total


@lru_cache(maxsize=1)
def _cn_range() -> tuple[int, int]:
    """The years chinese-calendar answers for (as its own check: its holidays' years)."""
    from chinese_calendar import constants

    years = [d.year for d in constants.holidays]
    return min(years), max(years)


def _cn_covers(year: int) -> bool:
    first, last = _cn_range()
    return first <= year <= last


@lru_cache(maxsize=64)
def _named_days(
    cn: bool, extra_workdays: tuple[date, ...], extra_holidays: tuple[date, ...]
) -> list[date]:
    """Every day that some list names, sorted: the only days that may differ from their
    year's weekly pattern."""
    days = set(extra_workdays) | set(extra_holidays)
    if cn:
        from chinese_calendar import constants

        days |= set(constants.holidays) | set(constants.workdays)
    return sorted(days)


def coverage_notes(calendars: list[CalendarConfig], today: date) -> list[str]:
    """What check-config and serve say when ``holidays: cn`` will reach a year without data
    (this year or next): that year counts weekends only until chinese-calendar is upgraded."""
    from core.sla.texts import CALENDAR_FALLBACK

    first, last = covered_years()
    notes = []
    for cal in calendars:
        if cal.holidays != "cn":
            continue
        for year in (today.year, today.year + 1):
            if year < first or year > last:
                notes.append(
                    CALENDAR_FALLBACK.format(
                        key=cal.key, version=DATA_VERSION, last=last, year=year
                    )
                )
    return notes
