"""Working days and working time on China's calendar. Pure: no I/O; the admins' amendments come in as values.

A date is a working day unless it is a Saturday, a Sunday or a public holiday, and a 调休 make-up working day (a
Saturday or Sunday the State Council declares worked) is one. The days of a year come from, in this order:

1. an admin's amendment of that year (``PUT /admin/calendar/{year}``, stored by ``calendar_years``): the State
   Council publishes the next year's holidays each November, before a new ``chinese-calendar`` release knows them;
2. the ``chinese-calendar`` package (1.11.0 knows 2004–2026);
3. for a year neither knows, weekends only (``DaysSource.WEEKENDS_ONLY``): a complaint cannot wait for an admin,
   so its clock runs on the plain week rather than being refused; ``GET /admin/calendar/{year}`` shows the source.

Working time is the working days' office hours (``WorkingHours``, 09:00–17:00 by default, in the rules), in
Asia/Shanghai. A working day as a length is one day's office hours: N working days from 10:00 on a working day end
at 10:00 N working days later, and N working days from the evening, a weekend or a holiday end at the close of the
Nth working day. Fractions (a working day × 0.75 for an urgent case) are the same share of the office hours.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum

import chinese_calendar
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.dispatch import texts
from shared.errors import Invalid

# China keeps one offset all year (no daylight saving since 1991): a fixed zone needs no tz database in the image.
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")
SATURDAY = 5
# How far ahead working time is sought before giving up: only a calendar with no working day left could get there.
_HORIZON_DAYS = 3660


class DaysSource(StrEnum):
    AMENDED = "amended"  # an admin's amendment of the year
    PACKAGE = "package"  # the chinese-calendar package
    WEEKENDS_ONLY = "weekends_only"  # neither knows the year: only Saturdays and Sundays are off


@dataclass(frozen=True, slots=True)
class YearDays:
    """One year's days off and make-up working days, and where they came from."""

    year: int
    source: DaysSource
    holidays: frozenset[date] = frozenset()
    make_up_workdays: frozenset[date] = frozenset()

    def is_working_day(self, day: date) -> bool:
        if day in self.make_up_workdays:
            return True
        return day.weekday() < SATURDAY and day not in self.holidays


def weekend(day: date) -> bool:
    return day.weekday() >= SATURDAY


def amended_year(year: int, *, holidays: Iterable[date], make_up_workdays: Iterable[date]) -> YearDays:
    """An admin's amendment of a year, checked: every date in the year, a make-up working day on a Saturday or a
    Sunday (a weekday is worked anyway), no date both off and worked. Raises ``Invalid`` naming the entry at fault."""
    off, worked = list(holidays), list(make_up_workdays)
    for field, days in (("holidays", off), ("make_up_workdays", worked)):
        for i, day in enumerate(days):
            if day.year != year:
                raise Invalid(
                    "date_outside_year", texts.CALENDAR_DATE_OUTSIDE_YEAR.format(day=day, year=year), f"{field}.{i}"
                )
    for i, day in enumerate(worked):
        if not weekend(day):
            raise Invalid(
                "make_up_day_not_weekend", texts.CALENDAR_MAKE_UP_NOT_WEEKEND.format(day=day), f"make_up_workdays.{i}"
            )
        if day in off:
            raise Invalid("day_off_and_worked", texts.CALENDAR_DAY_TWICE.format(day=day), f"make_up_workdays.{i}")
    return YearDays(year, DaysSource.AMENDED, frozenset(off), frozenset(worked))


@functools.cache
def package_year(year: int) -> YearDays | None:
    """The year as the ``chinese-calendar`` package knows it, or None when it does not (its tables end at the last
    year the State Council had published when it was released)."""
    holidays = frozenset(d for d in chinese_calendar.holidays if d.year == year)
    if not holidays:
        return None
    workdays = frozenset(d for d in chinese_calendar.workdays if d.year == year and weekend(d))
    return YearDays(year, DaysSource.PACKAGE, holidays, workdays)


class WorkingHours(BaseModel):
    """The office hours of a working day, Asia/Shanghai local time: 12345's working-day clocks count them only."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: time = Field(default=time(9), description="Opening, local time (HH:MM).")
    end: time = Field(default=time(17), description="Closing, local time (HH:MM).")

    @model_validator(mode="after")
    def _ordered(self) -> WorkingHours:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("working hours are local times (Asia/Shanghai) without an offset")
        if not self.start < self.end:
            raise ValueError("working hours must end after they start")
        return self

    @property
    def length(self) -> timedelta:
        return datetime.combine(date.min, self.end) - datetime.combine(date.min, self.start)


class WorkCalendar:
    """Which dates are working days, and deadline arithmetic in working time, for aware datetimes."""

    def __init__(self, amendments: Iterable[YearDays] = (), hours: WorkingHours | None = None) -> None:
        self._amended: Mapping[int, YearDays] = {y.year: y for y in amendments}
        self.hours = hours or WorkingHours()

    def year(self, year: int) -> YearDays:
        """A year's days: the admins' amendment, else the package's, else weekends only."""
        return self._amended.get(year) or package_year(year) or YearDays(year, DaysSource.WEEKENDS_ONLY)

    def is_working_day(self, day: date) -> bool:
        return self.year(day.year).is_working_day(day)

    @property
    def day_length(self) -> timedelta:
        """One working day as working time (its office hours)."""
        return self.hours.length

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """``start`` plus ``amount`` of working time. A start outside office hours counts from the next opening; a
        deadline that falls at a closing time stays there (17:00, not the next morning)."""
        if start.tzinfo is None:
            raise ValueError("working time is added to aware datetimes only")
        if amount < timedelta(0):
            raise ValueError("working time cannot be negative")
        at, left = start.astimezone(CHINA), amount
        for _ in range(_HORIZON_DAYS):
            day = at.date()
            if self.is_working_day(day):
                opening, closing = self._window(day)
                at = max(at, opening)
                if at < closing or (at == closing and not left):
                    if left <= closing - at:
                        return (at + left).astimezone(start.tzinfo)
                    left -= closing - at
            at = datetime.combine(day + timedelta(days=1), time(0), CHINA)
        raise ValueError(f"no working time within {_HORIZON_DAYS} days of {start.isoformat()}")

    def add_working_days(self, start: datetime, days: float) -> datetime:
        return self.add(start, self.day_length * days)

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        return self.add(start, timedelta(hours=hours))

    def between(self, start: datetime, end: datetime) -> timedelta:
        """The working time from ``start`` to ``end`` (zero when ``end`` is not later)."""
        total, at, stop = timedelta(0), start.astimezone(CHINA), end.astimezone(CHINA)
        while at < stop:
            day = at.date()
            if self.is_working_day(day):
                opening, closing = self._window(day)
                total += max(timedelta(0), min(closing, stop) - max(opening, at))
            at = datetime.combine(day + timedelta(days=1), time(0), CHINA)
        return total

    def _window(self, day: date) -> tuple[datetime, datetime]:
        return datetime.combine(day, self.hours.start, CHINA), datetime.combine(day, self.hours.end, CHINA)
