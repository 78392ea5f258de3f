"""The working-day calendar in force: the chinese-calendar package, with the years an admin amended in the database
(``PUT /admin/calendar/{year}``), read afresh by each transaction that computes a deadline so an amendment is in
force at once on every replica."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.domain import Rules
from services.dispatch.models import CalendarYear
from services.dispatch.workdays import DaysSource, WorkCalendar, YearDays
from shared.db import forget, once_per_transaction

_AMENDED = "calendar.amended"  # the transaction's memo of the amended years (``once_per_transaction``)


def _days(row: CalendarYear) -> YearDays:
    return YearDays(
        row.year,
        DaysSource.AMENDED,
        frozenset(date.fromisoformat(d) for d in row.holidays),
        frozenset(date.fromisoformat(d) for d in row.make_up_workdays),
    )


async def work_calendar(session: AsyncSession, rules: Rules) -> WorkCalendar:
    """The calendar deadlines are computed on: every amended year (a handful of rows, read once per transaction) and
    the rules' office hours."""

    async def read() -> list[YearDays]:
        return [_days(r) for r in (await session.scalars(select(CalendarYear))).all()]

    return WorkCalendar(await once_per_transaction(session, _AMENDED, read), rules.working_hours)


async def amendment(session: AsyncSession, year: int) -> CalendarYear | None:
    return await session.get(CalendarYear, year)


async def amend_year(session: AsyncSession, days: YearDays, *, note: str, by: str, at: datetime) -> CalendarYear:
    """Store (or replace) an admin's amendment of a year; from the next deadline on it replaces the package's year."""
    row = await session.get(CalendarYear, days.year, with_for_update=True)
    if row is None:
        row = CalendarYear(year=days.year)
        session.add(row)
    row.holidays = sorted(d.isoformat() for d in days.holidays)
    row.make_up_workdays = sorted(d.isoformat() for d in days.make_up_workdays)
    row.note, row.updated_by, row.updated_at = note, by, at
    await session.flush()
    forget(session, _AMENDED)
    return row
