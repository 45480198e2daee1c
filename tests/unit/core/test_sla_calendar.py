"""Business-minute arithmetic (core/sla/calendar.py). Every expectation is worked out by hand.

The office calendar is the default: Monday to Friday, 09:00-12:00 and 13:00-18:00 (480 minutes
a day), Asia/Shanghai, China's statutory holidays. National Day 2025: October 1-8 are off;
Sunday 2025-09-28 and Saturday 2025-10-11 are make-up working days (调休).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from core.settings import CalendarConfig
from core.sla.calendar import add_business_minutes, business_time_between, working_spans

SH = ZoneInfo("Asia/Shanghai")
OFFICE = CalendarConfig(key="office")
ALL_WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def sh(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SH)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


def check(cal: CalendarConfig, start: datetime, minutes: int, expected: datetime) -> None:
    got = add_business_minutes(cal, start, minutes)
    assert got == expected, f"{start} + {minutes} min: got {got}, expected {expected}"
    assert got.utcoffset() == expected.utcoffset()  # answered in the calendar's zone


# Tuesday 2025-06-10 is an ordinary working day; 06-13 is a Friday, 06-16 a Monday.
@pytest.mark.parametrize(
    ("start", "minutes", "expected"),
    [
        pytest.param(sh(2025, 6, 10, 9, 30), 60, sh(2025, 6, 10, 10, 30), id="within-morning"),
        pytest.param(sh(2025, 6, 10, 10), 120, sh(2025, 6, 10, 12), id="ends-at-noon"),
        pytest.param(sh(2025, 6, 10, 11, 30), 60, sh(2025, 6, 10, 13, 30), id="across-lunch"),
        pytest.param(sh(2025, 6, 10, 12, 15), 30, sh(2025, 6, 10, 13, 30), id="starts-at-lunch"),
        pytest.param(sh(2025, 6, 10, 7), 30, sh(2025, 6, 10, 9, 30), id="before-opening"),
        pytest.param(sh(2025, 6, 10, 18, 30), 30, sh(2025, 6, 11, 9, 30), id="after-closing"),
        pytest.param(sh(2025, 6, 10, 9), 480, sh(2025, 6, 10, 18), id="one-full-day"),
        pytest.param(sh(2025, 6, 10, 9), 481, sh(2025, 6, 11, 9, 1), id="one-day-and-a-minute"),
        pytest.param(sh(2025, 6, 10, 17, 59), 2, sh(2025, 6, 11, 9, 1), id="over-night"),
        pytest.param(sh(2025, 6, 13, 17), 120, sh(2025, 6, 16, 10), id="across-weekend"),
        pytest.param(sh(2025, 6, 14, 10), 30, sh(2025, 6, 16, 9, 30), id="starts-on-saturday"),
        # Tue 10:00: 120 + 300 (Tue) + 480 (Wed) + 480 (Thu) + 480 (Fri) = 1860; +60 -> Mon 10:00
        pytest.param(sh(2025, 6, 10, 10), 1920, sh(2025, 6, 16, 10), id="most-of-a-week"),
    ],
)
def test_office_hours(start: datetime, minutes: int, expected: datetime) -> None:
    check(OFFICE, start, minutes, expected)


@pytest.mark.parametrize(
    ("start", "minutes", "expected"),
    [
        # Tue 09-30 17:00: one hour left that day, then October 1-8 are off -> Thu 10-09 10:00
        pytest.param(sh(2025, 9, 30, 17), 120, sh(2025, 10, 9, 10), id="into-national-day"),
        pytest.param(sh(2025, 10, 1, 10), 60, sh(2025, 10, 9, 10), id="starts-on-holiday"),
        pytest.param(sh(2025, 10, 6, 9), 0, sh(2025, 10, 9, 9), id="zero-on-holiday"),
        # Saturday 09-27 is off, Sunday 09-28 is a make-up working day
        pytest.param(sh(2025, 9, 27, 10), 60, sh(2025, 9, 28, 10), id="makeup-sunday"),
        # Fri 09-26 09:00: 480 (Fri) + 480 (Sun 28, 调休) + 480 (Mon 29) -> Mon 18:00
        pytest.param(sh(2025, 9, 26, 9), 1440, sh(2025, 9, 29, 18), id="three-days-over-makeup"),
        # Friday 10-10 17:30: 30 minutes, then Saturday 10-11 is worked
        pytest.param(sh(2025, 10, 10, 17, 30), 60, sh(2025, 10, 11, 9, 30), id="makeup-saturday"),
        # Sat 10-11 17:00: 60 that day, Sunday 10-12 is off -> Mon 10-13 10:00
        pytest.param(sh(2025, 10, 11, 17), 120, sh(2025, 10, 13, 10), id="after-makeup-saturday"),
    ],
)
def test_national_day_2025_and_makeup_days(
    start: datetime, minutes: int, expected: datetime
) -> None:
    check(OFFICE, start, minutes, expected)


def test_working_spans_follow_the_statutory_calendar() -> None:
    office = ((time(9), time(12)), (time(13), time(18)))
    assert working_spans(OFFICE, date(2025, 9, 30)) == office
    for day in range(1, 9):
        assert working_spans(OFFICE, date(2025, 10, day)) == (), f"10-{day} should be off"
    assert working_spans(OFFICE, date(2025, 10, 9)) == office
    assert working_spans(OFFICE, date(2025, 9, 28)) == office  # Sunday, worked
    assert working_spans(OFFICE, date(2025, 10, 11)) == office  # Saturday, worked
    assert working_spans(OFFICE, date(2025, 10, 12)) == ()  # an ordinary Sunday


def test_extra_holiday_is_off() -> None:
    cal = CalendarConfig(key="x", extra_holidays=[date(2025, 6, 11)])
    # Tue 17:00: 60 minutes, Wednesday is off, Thursday 09:00 + 60
    check(cal, sh(2025, 6, 10, 17), 120, sh(2025, 6, 12, 10))


def test_extra_holiday_beats_a_makeup_day() -> None:
    cal = CalendarConfig(key="x", extra_holidays=[date(2025, 9, 28)])
    check(cal, sh(2025, 9, 27, 10), 60, sh(2025, 9, 29, 10))


def test_extra_workday_on_a_weekend_borrows_monday_hours() -> None:
    cal = CalendarConfig(key="x", extra_workdays=[date(2025, 6, 14)])
    # Fri 17:00: 60 minutes, then Saturday 09:00 + 60
    check(cal, sh(2025, 6, 13, 17), 120, sh(2025, 6, 14, 10))
    # across lunch on that Saturday too
    check(cal, sh(2025, 6, 14, 11, 30), 60, sh(2025, 6, 14, 13, 30))


def test_extra_workday_beats_a_statutory_holiday() -> None:
    cal = CalendarConfig(key="x", extra_workdays=[date(2025, 10, 2)])
    # Tue 09-30 17:00: 60 minutes, Oct 1 off, Oct 2 worked from 09:00
    check(cal, sh(2025, 9, 30, 17), 120, sh(2025, 10, 2, 10))


def test_extra_workday_keeps_its_own_weekday_hours() -> None:
    cal = CalendarConfig(
        key="x",
        holidays="none",
        hours={"mon": ["09:00-18:00"], "sat": ["10:00-12:00"]},
        extra_workdays=[date(2025, 6, 14)],
    )
    check(cal, sh(2025, 6, 14, 9), 60, sh(2025, 6, 14, 11))


def test_without_statutory_holidays_national_day_is_worked() -> None:
    cal = CalendarConfig(key="x", holidays="none")
    check(cal, sh(2025, 9, 30, 17), 120, sh(2025, 10, 1, 10))
    # ... and the make-up Sunday is not
    check(cal, sh(2025, 9, 27, 10), 60, sh(2025, 9, 29, 10))


@pytest.mark.parametrize(
    ("start", "minutes", "expected"),
    [
        # 01:30 UTC is 09:30 in Shanghai; 10:30 there is 02:30 UTC
        pytest.param(utc(2025, 6, 10, 1, 30), 60, utc(2025, 6, 10, 2, 30), id="utc-morning"),
        # Monday 23:00 UTC is already Tuesday 07:00 in Shanghai: 09:30 Tue = 01:30 UTC Tue
        pytest.param(utc(2025, 6, 9, 23), 30, utc(2025, 6, 10, 1, 30), id="utc-date-differs"),
        # Friday 10:30 UTC is 18:30 in Shanghai, after closing -> Monday 09:30 (01:30 UTC)
        pytest.param(utc(2025, 6, 13, 10, 30), 30, utc(2025, 6, 16, 1, 30), id="utc-friday-late"),
        # +02:00 03:30 is 01:30 UTC, 09:30 in Shanghai
        pytest.param(
            datetime(2025, 6, 10, 3, 30, tzinfo=timezone(timedelta(hours=2))),
            60,
            utc(2025, 6, 10, 2, 30),
            id="other-offset",
        ),
    ],
)
def test_start_in_another_zone(start: datetime, minutes: int, expected: datetime) -> None:
    got = add_business_minutes(OFFICE, start, minutes)
    assert got == expected
    assert got.utcoffset() == timedelta(hours=8)  # expressed in the calendar's zone


def test_calendar_in_another_zone() -> None:
    cal = CalendarConfig(key="eu", timezone="Europe/Berlin", holidays="none")
    # 06:30 UTC is 08:30 CEST: opening at 09:00, + 60 -> 10:00 CEST = 08:00 UTC
    got = add_business_minutes(cal, utc(2025, 6, 10, 6, 30), 60)
    assert got == utc(2025, 6, 10, 8, 0)
    assert got.utcoffset() == timedelta(hours=2)


def test_zero_minutes_inside_working_time_is_the_start() -> None:
    start = sh(2025, 6, 10, 10, 17)
    check(OFFICE, start, 0, start)
    check(OFFICE, utc(2025, 6, 10, 2, 17), 0, start)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        pytest.param(sh(2025, 6, 10, 12, 30), sh(2025, 6, 10, 13), id="lunch"),
        pytest.param(sh(2025, 6, 14, 10), sh(2025, 6, 16, 9), id="saturday"),
        pytest.param(sh(2025, 6, 10, 18), sh(2025, 6, 11, 9), id="closing-time"),
    ],
)
def test_zero_minutes_outside_working_time_is_the_next_opening(
    start: datetime, expected: datetime
) -> None:
    check(OFFICE, start, 0, expected)


def test_span_ending_at_midnight_is_exact() -> None:
    cal = CalendarConfig(key="24x7", holidays="none", hours={d: ["00:00-24:00"] for d in ALL_WEEK})
    check(cal, sh(2025, 6, 9, 23, 30), 60, sh(2025, 6, 10, 0, 30))
    check(cal, sh(2025, 6, 9, 23, 30), 3 * 24 * 60, sh(2025, 6, 12, 23, 30))


def test_night_shift_across_midnight() -> None:
    cal = CalendarConfig(
        key="night", holidays="none", hours={"mon": ["18:00-24:00"], "tue": ["00:00-06:00"]}
    )
    check(cal, sh(2025, 6, 9, 23, 30), 60, sh(2025, 6, 10, 0, 30))
    check(cal, sh(2025, 6, 9, 17), 12 * 60, sh(2025, 6, 10, 6))


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        add_business_minutes(OFFICE, datetime(2025, 6, 10, 10), 60)


def test_negative_minutes_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        add_business_minutes(OFFICE, sh(2025, 6, 10, 10), -1)


def test_calendar_without_any_working_time_is_refused() -> None:
    cal = CalendarConfig(key="never", holidays="none", hours={})
    with pytest.raises(ValueError, match="no working time"):
        add_business_minutes(cal, sh(2025, 6, 10, 10), 1)


def test_remembered_answers_follow_a_calendar_that_changes() -> None:
    """The calendar's days and sums are remembered by what the calendar says: the same object
    changed in place, or another one under the same key, is answered afresh."""
    cal = CalendarConfig(key="x")
    start = sh(2025, 6, 10, 17)  # Tuesday 17:00
    check(cal, start, 120, sh(2025, 6, 11, 10))
    assert business_time_between(cal, start, sh(2025, 6, 11, 10)) == timedelta(hours=2)
    cal.extra_holidays.append(date(2025, 6, 11))  # Wednesday off
    check(cal, start, 120, sh(2025, 6, 12, 10))
    assert business_time_between(cal, start, sh(2025, 6, 11, 10)) == timedelta(hours=1)
    cal.hours["thu"] = ["08:00-18:00"]
    check(cal, start, 120, sh(2025, 6, 12, 9))
    cal.timezone = "UTC"  # Tuesday 09:00 UTC: 17:00 in Shanghai, the same instant
    check(cal, start, 120, utc(2025, 6, 10, 11))
    reloaded = CalendarConfig(key="x", extra_holidays=[date(2025, 6, 11)])
    check(reloaded, start, 120, sh(2025, 6, 12, 10))
    check(CalendarConfig(key="x"), start, 120, sh(2025, 6, 11, 10))  # as it was at first
