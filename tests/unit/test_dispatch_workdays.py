"""The working-day calendar: China's holidays and 调休 make-up working days (the 2026 Spring Festival: 15–23 February
off, Saturdays 14 and 28 February worked), working time across nights and weekends, and an admin's amendment."""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from services.dispatch.workdays import (
    CHINA,
    DaysSource,
    WorkCalendar,
    WorkingHours,
    YearDays,
    amended_year,
    package_year,
)
from shared.errors import Invalid

CAL = WorkCalendar()


def cst(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CHINA)


def test_the_package_knows_2026_with_its_spring_festival_and_make_up_saturdays() -> None:
    assert CAL.year(2026).source is DaysSource.PACKAGE
    assert not CAL.is_working_day(date(2026, 2, 16))  # Monday of the Spring Festival
    assert not CAL.is_working_day(date(2026, 2, 23))  # its last day, a Monday
    assert CAL.is_working_day(date(2026, 2, 14))  # Saturday, 调休
    assert CAL.is_working_day(date(2026, 2, 28))  # Saturday, 调休
    assert not CAL.is_working_day(date(2026, 3, 7))  # an ordinary Saturday
    assert CAL.is_working_day(date(2026, 3, 9))  # an ordinary Monday


def test_working_days_across_the_spring_festival() -> None:
    friday = cst(2, 13, 10)
    assert CAL.add_working_days(friday, 1) == cst(2, 14, 10)  # the make-up Saturday counts
    assert CAL.add_working_days(friday, 2) == cst(2, 24, 10)  # nine days off skipped
    # 15 working days: 14 Feb, 24–28 Feb (28th worked), 2–6 Mar, 9–12 Mar.
    assert CAL.add_working_days(friday, 15) == cst(3, 12, 10)


def test_a_clock_started_on_a_holiday_counts_from_the_first_working_morning() -> None:
    assert CAL.add_working_days(cst(2, 17, 11), 1) == cst(2, 24, 17)
    assert CAL.add_working_days(cst(2, 17, 11), 0.5) == cst(2, 24, 13)


def test_a_clock_landing_on_a_make_up_saturday_counts_it_as_a_working_day() -> None:
    assert CAL.add_working_days(cst(2, 27, 10), 1) == cst(2, 28, 10)
    assert CAL.add_working_hours(cst(2, 27, 16), 3) == cst(2, 28, 11)


def test_working_hours_across_a_night_and_a_weekend() -> None:
    assert CAL.add_working_hours(cst(3, 3, 16), 3) == cst(3, 4, 11)  # Tuesday → Wednesday
    assert CAL.add_working_hours(cst(3, 6, 16), 3) == cst(3, 9, 11)  # Friday → Monday
    assert CAL.add_working_hours(cst(3, 3, 20), 1) == cst(3, 4, 10)  # an evening start waits for the morning
    assert CAL.add_working_hours(cst(3, 7, 12), 1) == cst(3, 9, 10)  # so does a Saturday's


def test_a_deadline_at_closing_time_stays_at_closing_time() -> None:
    assert CAL.add_working_days(cst(3, 9, 9), 1) == cst(3, 9, 17)
    assert CAL.add_working_days(cst(3, 9, 20), 1) == cst(3, 10, 17)
    assert CAL.add(cst(3, 9, 17), timedelta(0)) == cst(3, 9, 17)


def test_times_are_shanghai_local_whatever_zone_comes_in_and_the_zone_is_kept() -> None:
    # 2026-03-06 08:30 UTC is Friday 16:30 in Shanghai: half an hour left, then Monday.
    start = datetime(2026, 3, 6, 8, 30, tzinfo=UTC)
    due = CAL.add_working_hours(start, 1)
    assert due == cst(3, 9, 9, 30) and due.tzinfo is UTC
    with pytest.raises(ValueError, match="aware"):
        CAL.add(datetime(2026, 3, 6, 8, 30), timedelta(hours=1))


def test_office_hours_are_the_rules_choice() -> None:
    early = WorkCalendar(hours=WorkingHours(start=time(8, 30), end=time(17, 30)))
    assert early.day_length == timedelta(hours=9)
    # Friday 17:00: half an hour left that day, eight and a half on Monday from 08:30.
    assert early.add_working_days(cst(3, 6, 17), 1) == cst(3, 9, 17)


def test_working_time_between_two_instants_skips_the_festival() -> None:
    assert CAL.between(cst(2, 13, 10), cst(2, 24, 10)) == timedelta(hours=16)
    assert CAL.between(cst(2, 24, 10), cst(2, 13, 10)) == timedelta(0)
    start = cst(2, 13, 10)
    assert CAL.add(start, CAL.between(start, cst(3, 12, 10))) == cst(3, 12, 10)


def test_a_year_nobody_knows_falls_back_to_weekends_only() -> None:
    assert package_year(2099) is None
    days = CAL.year(2099)
    assert days.source is DaysSource.WEEKENDS_ONLY and not days.holidays
    assert CAL.is_working_day(date(2099, 1, 1))  # New Year's Day, but nobody said so for 2099
    # A clock over the new year runs into the unknown year on the plain week.
    assert CAL.add_working_days(cst(12, 31, 10, year=2099), 1) == cst(1, 1, 10, year=2100)


def test_an_amendment_overrides_the_package_for_its_year() -> None:
    # Say 2026's notice were corrected: 28 February not worked, 2 March off.
    amended = WorkCalendar([amended_year(2026, holidays=[date(2026, 3, 2)], make_up_workdays=[])])
    assert amended.year(2026).source is DaysSource.AMENDED
    assert not amended.is_working_day(date(2026, 2, 28)) and not amended.is_working_day(date(2026, 3, 2))
    # The amendment replaces the year: the package's Spring Festival is not kept alongside it.
    assert amended.is_working_day(date(2026, 2, 16))
    assert amended.add_working_days(cst(2, 27, 10), 1) == cst(3, 3, 10)
    assert CAL.add_working_days(cst(2, 27, 10), 1) == cst(2, 28, 10)  # another calendar is unchanged


def test_an_amendment_for_a_year_the_package_does_not_know() -> None:
    year = 2099
    amended = WorkCalendar(
        [amended_year(year, holidays=[date(year, 1, 1), date(year, 1, 2)], make_up_workdays=[date(year, 1, 3)])]
    )
    assert [amended.is_working_day(date(year, 1, d)) for d in (1, 2, 3)] == [False, False, True]  # Thu, Fri, Sat
    assert amended.add_working_days(cst(12, 31, 10, year=year - 1), 1) == cst(1, 3, 10, year=year)


@pytest.mark.parametrize(
    ("holidays", "make_up", "code", "field"),
    [
        ([date(2027, 1, 1), date(2026, 12, 31)], [], "date_outside_year", "holidays.1"),
        ([], [date(2028, 1, 1)], "date_outside_year", "make_up_workdays.0"),
        ([], [date(2027, 2, 8)], "make_up_day_not_weekend", "make_up_workdays.0"),  # a Monday
        ([date(2027, 2, 6)], [date(2027, 2, 6)], "day_off_and_worked", "make_up_workdays.0"),
    ],
)
def test_an_amendment_is_refused_naming_the_date_at_fault(
    holidays: list[date], make_up: list[date], code: str, field: str
) -> None:
    with pytest.raises(Invalid) as refused:
        amended_year(2027, holidays=holidays, make_up_workdays=make_up)
    assert (refused.value.code, refused.value.field) == (code, field)


def test_year_days_alone() -> None:
    days = YearDays(2030, DaysSource.AMENDED, frozenset({date(2030, 1, 1)}), frozenset({date(2030, 1, 5)}))
    assert not days.is_working_day(date(2030, 1, 1)) and days.is_working_day(date(2030, 1, 5))
