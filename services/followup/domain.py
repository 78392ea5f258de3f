"""Pure follow-up rules: the verdict of a return visit, residents who cannot be reached, the households of a
building-wide case, the weekly spot-check draw, and the local calendar of reports. No I/O."""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import TypeVar
from zoneinfo import ZoneInfo

from services.followup.states import RoundOutcome, VisitStatus
from shared.contracts.common import Satisfaction
from shared.contracts.followup import ReopenReason
from shared.inputs import MAX_YEAR, MIN_YEAR

# Indoor readings outside this range are measurement errors, not verdicts.
PLAUSIBLE_INDOOR_C = (0.0, 35.0)

T = TypeVar("T")


# -- the verdict -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verdict:
    close: bool
    reason: ReopenReason | None
    min_temp_c: float


def verdict(room_temps_c: Sequence[float], satisfaction: Satisfaction | None, *, standard_c: float) -> Verdict:
    """Close when every room meets the standard and the resident is not dissatisfied; else reopen with why.
    ``satisfaction`` None (the resident was not reached) decides on the temperature alone."""
    if not room_temps_c:
        raise ValueError("at least one room temperature is required")
    coldest = min(room_temps_c)
    too_cold = coldest < standard_c
    dissatisfied = satisfaction is Satisfaction.DISSATISFIED
    if too_cold and dissatisfied:
        return Verdict(False, ReopenReason.BOTH, coldest)
    if too_cold:
        return Verdict(False, ReopenReason.TOO_COLD, coldest)
    if dissatisfied:
        return Verdict(False, ReopenReason.DISSATISFIED, coldest)
    return Verdict(True, None, coldest)


class Outcome(StrEnum):
    CLOSE = "close"
    REOPEN = "reopen"
    RETRY = "retry"  # resident not reached yet: another attempt is owed


class ReadingRequired(ValueError):
    """The last allowed unreached attempt must bring a temperature reading to decide on."""


@dataclass(frozen=True, slots=True)
class Attempt:
    outcome: Outcome
    verdict: Verdict | None
    unreached: bool
    room_temps_c: tuple[float, ...]


def decide_attempt(
    *,
    reached: bool,
    room_temps_c: Sequence[float],
    satisfaction: Satisfaction | None,
    standard_c: float,
    unreached_before: int,
    earlier_temps_c: Sequence[float] = (),
    max_unreached: int = 2,
) -> Attempt:
    """One attempt at a return visit.

    Resident reached: the verdict (rooms against the standard, and the resident's satisfaction).
    Resident not reached (不在家/联系不上): the visit stays open until the ``max_unreached``-th unreached attempt,
    which decides on the temperature alone (this attempt's readings, else the latest readings of an earlier
    attempt — a room sensor, a neighbour's help), flagged ``unreached``: every room ≥ standard closes,
    anything colder reopens as too cold. Without any reading that last attempt cannot be recorded.
    """
    if reached:
        v = verdict(room_temps_c, satisfaction, standard_c=standard_c)
        return Attempt(Outcome.CLOSE if v.close else Outcome.REOPEN, v, False, tuple(room_temps_c))
    if unreached_before + 1 < max_unreached:
        return Attempt(Outcome.RETRY, None, True, tuple(room_temps_c))
    temps = tuple(room_temps_c) or tuple(earlier_temps_c)
    if not temps:
        raise ReadingRequired("an unreached final attempt needs a temperature reading")
    v = verdict(temps, None, standard_c=standard_c)
    return Attempt(Outcome.CLOSE if v.close else Outcome.REOPEN, v, True, temps)


_SATISFACTION_RANK = {Satisfaction.DISSATISFIED: 0, Satisfaction.MOSTLY: 1, Satisfaction.SATISFIED: 2}


def worst_satisfaction(answers: Iterable[Satisfaction | None]) -> Satisfaction | None:
    """The least satisfied answer of a round's visits (None when nobody answered)."""
    given = [a for a in answers if a is not None]
    return min(given, key=_SATISFACTION_RANK.__getitem__) if given else None


def round_outcome(visit_statuses: Sequence[str]) -> RoundOutcome | None:
    """A round reopens at its first failed visit and closes once every live visit of its sample passed.
    None: some visits are still pending."""
    if VisitStatus.REOPENED in visit_statuses:
        return RoundOutcome.REOPENED
    live = [s for s in visit_statuses if s != VisitStatus.CANCELLED]
    if live and all(s == VisitStatus.CLOSED for s in live):
        return RoundOutcome.CLOSED
    return None


def building_sample(
    *, case_id: str, round_: int, complainants: Iterable[str], known: Iterable[str], size: int
) -> list[str]:
    """The households to visit for a building-wide case: the households that complained first, then a
    reproducible draw (seeded by case and round) among the other households of the building that follow-up has
    seen (reports, visit ledger). Empty when none is known: one building-level visit is owed instead."""
    rng = random.Random(f"{case_id}:{round_}")
    first = sorted(set(complainants))
    if len(first) > size:
        first = sorted(rng.sample(first, size))
    others = sorted(set(known) - set(first))
    extra = min(size - len(first), len(others))
    return first + (sorted(rng.sample(others, extra)) if extra > 0 else [])


# -- 每周随机抽核 ---------------------------------------------------------------------------------------------


def sample_size(population: int, *, share: float, minimum: int) -> int:
    """ceil(share × population), at least ``minimum``, at most the population."""
    if population <= 0:
        return 0
    return min(population, max(minimum, math.ceil(share * population - 1e-9)))


def spot_check_sample(
    population: Iterable[T], *, seed: str, street_id: str, week: str, share: float, minimum: int
) -> list[T]:
    """The weekly draw: ``random.Random(f"{seed}:{street_id}:{week}").sample(sorted(population), k)``, sorted.
    The same seed, street, week and population always give the same sample."""
    ordered = sorted(set(population))  # type: ignore[type-var]
    k = sample_size(len(ordered), share=share, minimum=minimum)
    return sorted(random.Random(f"{seed}:{street_id}:{week}").sample(ordered, k))  # type: ignore[type-var]


# -- the calendar of reports (local days and ISO weeks) -----------------------------------------------------

_WEEK = re.compile(r"^([0-9]{4})-W([0-9]{2})$")  # ASCII digits: \d would take full-width ones too


def parse_week(week: str) -> date:
    """The Monday of an ISO week written ``2026-W47`` in 2000–2100; ValueError for anything else (a week at year 1
    or 9999 has no window the date arithmetic can compute)."""
    m = _WEEK.match(week)
    if not m or not MIN_YEAR <= int(m[1]) <= MAX_YEAR:
        raise ValueError(f"not an ISO week: {week!r}")
    try:
        return date.fromisocalendar(int(m[1]), int(m[2]), 1)
    except ValueError as exc:
        raise ValueError(f"not an ISO week: {week!r}") from exc


def week_name(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def local_day(at: datetime, zone: ZoneInfo) -> date:
    return at.astimezone(zone).date()


def day_window(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[local midnight, next local midnight) in UTC."""
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def week_window(week: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[Monday 00:00, next Monday 00:00) local time of an ISO week, in UTC."""
    monday = parse_week(week)
    return day_window(monday, zone)[0], day_window(monday + timedelta(days=7), zone)[0]


def week_of(at: datetime, zone: ZoneInfo) -> str:
    return week_name(local_day(at, zone))


def previous_week(at: datetime, zone: ZoneInfo) -> str:
    """The last complete ISO week before ``at`` (what a Monday draw samples)."""
    return week_name(local_day(at, zone) - timedelta(days=7))


def next_week(week: str) -> str:
    return week_name(parse_week(week) + timedelta(days=7))


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
