"""Working time between two instants (core/sla/calendar.py ``business_time_between``) counts the
whole days between the first and the last arithmetically. It must give exactly what walking
every day gives: here against that walk (written out below as it stood before) on random spans
of up to three years, across Spring Festivals, make-up working days (调休), the calendar's own
extra days, odd weekly patterns, a zone with summer time and years chinese-calendar has no data
for; and against hand counts and chinese-calendar's own working-day count.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.settings import CalendarConfig
from core.sla.calendar import _day_spans, business_time_between, covered_years

SH = ZoneInfo("Asia/Shanghai")
ALL_WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FIRST, LAST = covered_years()

CALENDARS = [
    CalendarConfig(key="office"),  # Monday to Friday, China's holidays and 调休
    CalendarConfig(key="plain", holidays="none"),
    CalendarConfig(  # Saturday hours (off in covered years: the State Council decides), no Wed
        key="odd",
        hours={
            "mon": ["08:00-12:00"],
            "tue": ["09:00-17:30"],
            "thu": ["13:00-24:00"],
            "fri": ["00:00-06:00", "20:00-24:00"],
            "sat": ["10:00-12:00"],
        },
        extra_workdays=[date(2025, 2, 2), date(2024, 6, 15), date(2031, 3, 1)],
        extra_holidays=[date(2025, 2, 8), date(2024, 6, 18), date(2030, 12, 31)],
    ),
    CalendarConfig(key="24x7", holidays="none", hours={d: ["00:00-24:00"] for d in ALL_WEEK}),
    CalendarConfig(key="night-cn", hours={"mon": ["18:00-24:00"], "tue": ["00:00-06:00"]}),
    CalendarConfig(
        key="berlin", timezone="Europe/Berlin", holidays="none", extra_holidays=[date(2025, 12, 25)]
    ),
]


def walked(cal: CalendarConfig, start: datetime, end: datetime) -> timedelta:
    """The day-by-day walk ``business_time_between`` replaced (the reference)."""
    if end <= start:
        return timedelta(0)
    tz = ZoneInfo(cal.timezone)
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    total = timedelta(0)
    day = local_start.date()
    while day <= local_end.date():
        for span_start, span_end in _day_spans(cal, day, tz):
            lo, hi = max(span_start, local_start), min(span_end, local_end)
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return total


instants = st.datetimes(
    min_value=datetime(FIRST + 15, 1, 1), max_value=datetime(LAST + 3, 12, 31)
).map(lambda d: d.replace(second=0, microsecond=0, tzinfo=UTC))
spans = st.tuples(instants, st.integers(min_value=0, max_value=3 * 366 * 24 * 60))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cal=st.sampled_from(CALENDARS), span=spans)
def test_counting_whole_days_equals_walking_them(
    cal: CalendarConfig, span: tuple[datetime, int]
) -> None:
    start, minutes = span
    end = start + timedelta(minutes=minutes)
    assert business_time_between(cal, start, end) == walked(cal, start, end)


@settings(max_examples=300, deadline=None)
@given(
    cal=st.sampled_from(CALENDARS),
    start=st.datetimes(min_value=datetime(2025, 1, 10), max_value=datetime(2025, 2, 20)),
    hours=st.integers(min_value=0, max_value=40 * 24),
)
def test_around_spring_festival_2025(cal: CalendarConfig, start: datetime, hours: int) -> None:
    begin = start.replace(tzinfo=SH)
    end = begin + timedelta(hours=hours, minutes=start.minute)
    assert business_time_between(cal, begin, end) == walked(cal, begin, end)


def test_spring_festival_2025_by_hand() -> None:
    office = CALENDARS[0]
    # Sat 01-25 off, Sun 01-26 worked (调休), Mon 01-27, then 01-28 to 02-04 off, Wed-Fri
    # 02-05..07, Sat 02-08 worked (调休), Sun 02-09 off: 6 working days of 8 hours
    start, end = datetime(2025, 1, 24, 18, tzinfo=SH), datetime(2025, 2, 10, 9, tzinfo=SH)
    assert business_time_between(office, start, end) == timedelta(hours=48)
    # from the middle of the make-up Sunday to the middle of the make-up Saturday
    start, end = datetime(2025, 1, 26, 15, tzinfo=SH), datetime(2025, 2, 8, 11, tzinfo=SH)
    assert business_time_between(office, start, end) == timedelta(hours=3 + 8 + 24 + 2)


def test_a_whole_year_is_chinese_calendars_working_days() -> None:
    office = CALENDARS[0]
    for year in (2024, 2025, LAST):
        days = chinese_calendar.get_workdays(date(year, 1, 1), date(year, 12, 31))
        start = datetime(year, 1, 1, tzinfo=SH)
        got = business_time_between(office, start, start.replace(year=year + 1))
        assert got == timedelta(hours=8 * len(days)), year


def test_summer_time_is_counted_on_the_wall_clock_as_before() -> None:
    berlin = CALENDARS[-1]
    tz = ZoneInfo("Europe/Berlin")
    # across the switch to summer time (2025-03-30) and back (2025-10-26)
    start, end = datetime(2025, 3, 20, 10, tzinfo=tz), datetime(2025, 11, 3, 10, tzinfo=tz)
    assert business_time_between(berlin, start, end) == walked(berlin, start, end)


def test_years_without_holiday_data_count_the_weekly_pattern() -> None:
    office = CALENDARS[0]
    start = datetime(LAST, 12, 20, tzinfo=SH)
    end = datetime(LAST + 2, 1, 10, tzinfo=SH)
    assert business_time_between(office, start, end) == walked(office, start, end)
    # a year past the data: 52 weeks and a day or two, Monday to Friday, 8 hours
    year = LAST + 1
    days = sum(date(year, 1, 1) + timedelta(days=i) < date(year + 1, 1, 1)
               and (date(year, 1, 1) + timedelta(days=i)).weekday() < 5 for i in range(366))  # fmt: skip
    start = datetime(year, 1, 1, tzinfo=SH)
    assert business_time_between(office, start, start.replace(year=year + 1)) == timedelta(
        hours=8 * days
    )
