"""Daily (日报告) and season reports of a community or a street: pure arithmetic over the facts of the area.
No I/O; ``queries.load_area`` gathers the facts (services.followup.report_facts).

The unit of a *problem* (排查问题) is a report that opened an incident (ComplaintReported; a complaint intake
grouped into an open incident — ComplaintGrouped — is the same problem and is not counted again), plus every
problem a grid worker found in the visit ledger without raising a report (settled on the spot, 现场化解).
For a day [start, end) — local midnight to midnight — and ``t`` = min(end, as_of):

flows (what happened during the day)
- ledger_visits, households_visited (distinct households or, for a building visit, buildings),
  residents_reached (Σ residents spoken to), found_on_visits (Σ findings), settled_on_site (findings not
  raised as a report): from HouseholdVisited.
- problems_found = reports reported that day + settled_on_site.
- solved = reports whose case was closed that day (each report counted at each closing of its case) +
  settled_on_site.
- reopened = reports whose closed case was reopened that day (a failed spot-check).
- withdrawn = reports whose case was withdrawn that day by its 12345 platform (撤单) while they were open.
- cases_closed (distinct cases closed that day), escalated (distinct cases that climbed dispatch's escalation
  chain that day), return_visits (return visits concluded that day), visits_overdue (return visits that went
  overdue that day and were escalated to the community).
stocks (the state at ``t``)
- open = reports reported before ``t`` whose case is neither closed nor withdrawn at ``t`` (a report whose case is
  unknown is open). So open(day) = open(day before) + problems_found − solved + reopened − withdrawn, exactly.
- overdue = cases neither closed nor withdrawn at ``t`` with a unit past its sign-in or resolve deadline, or a
  return visit past its deadline, at ``t``.

A season report is the same for every day of a range: flows add up (households_visited counts distinct
households over the whole range), stocks are those of the last day.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from services.followup.domain import day_window, days
from services.followup.report_facts import NEVER, AreaFacts, ReportFact
from services.followup.states import VISIT_CONCLUDED


@dataclass(slots=True)
class Figures:
    ledger_visits: int = 0
    households_visited: int = 0
    residents_reached: int = 0
    problems_found: int = 0
    found_on_visits: int = 0
    settled_on_site: int = 0
    solved: int = 0
    reopened: int = 0
    withdrawn: int = 0
    open: int = 0
    overdue: int = 0
    escalated: int = 0
    cases_closed: int = 0
    return_visits: int = 0
    visits_overdue: int = 0
    visits_answered: int = 0
    visits_satisfied: int = 0
    satisfaction_rate: float | None = None
    mean_temp_c: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Notable:
    case_id: str
    category: str
    building_id: str
    household_id: str | None
    reasons: tuple[str, ...]


@dataclass(slots=True)
class DayReport:
    day: date
    figures: Figures
    notable: list[Notable]


@dataclass(slots=True)
class SeasonReport:
    first: date
    last: date
    totals: Figures
    days: list[DayReport]


# -- intervals: when a report is open, when a case is closed or overdue --------------------------------------

Span = tuple[datetime, datetime]


def _union(spans: Iterable[Span]) -> list[Span]:
    out: list[Span] = []
    for start, end in sorted(s for s in spans if s[0] < s[1]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _minus(spans: list[Span], holes: list[Span]) -> list[Span]:
    out: list[Span] = []
    for start, end in spans:
        cursor = start
        for h_start, h_end in holes:
            if h_end <= cursor or h_start >= end:
                continue
            if h_start > cursor:
                out.append((cursor, h_start))
            cursor = max(cursor, h_end)
        if cursor < end:
            out.append((cursor, end))
    return out


class _Counter:
    """How many spans are open at a moment (a span counts at t when start < t ≤ end)."""

    def __init__(self, spans: Iterable[Span]) -> None:
        spans = list(spans)
        self._starts = sorted(s for s, _ in spans)
        self._ends = sorted(e for _, e in spans)

    def at(self, t: datetime) -> int:
        return bisect.bisect_left(self._starts, t) - bisect.bisect_left(self._ends, t)


def _closed_spans(facts: AreaFacts) -> dict[str, list[Span]]:
    spans: dict[str, list[Span]] = {}
    for r in facts.rounds:
        if r.closed_at is not None:
            spans.setdefault(r.case_id, []).append((r.closed_at, r.reopened_at or NEVER))
    return {case_id: _union(s) for case_id, s in spans.items()}


def _ended_spans(facts: AreaFacts, closed: dict[str, list[Span]]) -> dict[str, list[Span]]:
    """When a case is not open: closed (until reopened), or withdrawn (for good)."""
    ended = dict(closed)
    for case in facts.cases.values():
        if case.withdrawn_at is not None:
            ended[case.case_id] = _union([*closed.get(case.case_id, []), (case.withdrawn_at, NEVER)])
    return ended


def _report_open_spans(facts: AreaFacts, closed: dict[str, list[Span]]) -> list[Span]:
    out: list[Span] = []
    for r in facts.reports:
        holes = [s for s in closed.get(r.case_id or "", []) if s[0] >= r.reported_at]
        out += _minus([(r.reported_at, NEVER)], holes)
    return out


def _overdue_spans(facts: AreaFacts, closed: dict[str, list[Span]]) -> list[Span]:
    per_case: dict[str, list[Span]] = {}
    for c in facts.clocks:
        end = c.ended_at or NEVER
        signed = c.signed_in_at or end
        per_case.setdefault(c.case_id, []).extend(
            [(max(c.sign_in_due, c.dispatched_at), min(signed, end)), (max(c.resolve_due, c.dispatched_at), end)]
        )
    for v in facts.visits:
        per_case.setdefault(v.case_id, []).append((max(v.due_at, v.scheduled_at), v.concluded_at or NEVER))
    out: list[Span] = []
    for case_id, spans in per_case.items():
        out += _minus(_union(spans), closed.get(case_id, []))
    return out


# -- figures ----------------------------------------------------------------------------------------------------


class _Timeline:
    """Items sorted by a moment, so a window is a slice found by bisection."""

    def __init__(self, items: Iterable[tuple[datetime, Any]]) -> None:
        ordered = sorted(items, key=lambda x: x[0])
        self._keys = [k for k, _ in ordered]
        self._items = [v for _, v in ordered]

    def between(self, start: datetime, end: datetime) -> list[Any]:
        return self._items[bisect.bisect_left(self._keys, start) : bisect.bisect_left(self._keys, end)]


class _Area:
    """The facts of an area, indexed once so that any number of days costs little more than one."""

    def __init__(self, facts: AreaFacts) -> None:
        self.facts = facts
        closed = _closed_spans(facts)
        self.closed = _ended_spans(facts, closed)
        self.open = _Counter(_report_open_spans(facts, self.closed))
        self.overdue = _Counter(_overdue_spans(facts, self.closed))
        reports_of: dict[str, list[ReportFact]] = {}
        for r in facts.reports:
            if r.case_id:
                reports_of.setdefault(r.case_id, []).append(r)
        # reports still open when their case was withdrawn
        self.withdrawals = _Timeline(
            (
                c.withdrawn_at,
                sum(
                    x.reported_at < c.withdrawn_at
                    and not _inside([s for s in closed.get(c.case_id, []) if s[0] >= x.reported_at], c.withdrawn_at)
                    for x in reports_of.get(c.case_id, [])
                ),
            )
            for c in facts.cases.values()
            if c.withdrawn_at is not None
        )
        self.ledger = _Timeline((v.visited_at, v) for v in facts.ledger)
        self.reported = _Timeline((r.reported_at, r) for r in facts.reports)
        # (case, reports solved) at each closing; (case, reports reopened) at each reopening of a closed round
        self.closings = _Timeline(
            (r.closed_at, (r.case_id, sum(x.reported_at <= r.closed_at for x in reports_of.get(r.case_id, []))))
            for r in facts.rounds
            if r.closed_at is not None
        )
        self.reopenings = _Timeline(
            (r.reopened_at, sum(x.reported_at <= r.closed_at for x in reports_of.get(r.case_id, [])))
            for r in facts.rounds
            if r.closed_at is not None and r.reopened_at is not None
        )
        self.escalated = _Timeline((e.at, e.case_id) for e in facts.escalations)
        self.went_overdue = _Timeline((v.overdue_at, v) for v in facts.visits if v.overdue_at is not None)
        self.concluded = _Timeline(
            (v.concluded_at, v) for v in facts.visits if v.status in VISIT_CONCLUDED and v.concluded_at is not None
        )

    def figures(self, start: datetime, end: datetime, as_of: datetime) -> tuple[Figures, set[str]]:
        f = Figures()
        households: set[str] = set()
        for v in self.ledger.between(start, end):
            f.ledger_visits += 1
            households.add(v.household_key)
            f.residents_reached += v.residents_reached
            f.found_on_visits += v.findings
            f.settled_on_site += v.unreported
        f.households_visited = len(households)
        f.problems_found = len(self.reported.between(start, end)) + f.settled_on_site
        closings = self.closings.between(start, end)
        f.solved = f.settled_on_site + sum(n for _, n in closings)
        f.cases_closed = len({case_id for case_id, _ in closings})
        f.reopened = sum(self.reopenings.between(start, end))
        f.withdrawn = sum(self.withdrawals.between(start, end))
        f.escalated = len(set(self.escalated.between(start, end)))
        f.visits_overdue = len(self.went_overdue.between(start, end))
        temps: list[float] = []
        for v in self.concluded.between(start, end):
            f.return_visits += 1
            if v.satisfaction is not None:
                f.visits_answered += 1
                f.visits_satisfied += v.satisfaction in ("satisfied", "mostly")
            if v.room_temps_c:
                temps.append(sum(v.room_temps_c) / len(v.room_temps_c))
        f.satisfaction_rate = round(f.visits_satisfied / f.visits_answered, 4) if f.visits_answered else None
        f.mean_temp_c = round(sum(temps) / len(temps), 2) if temps else None
        t = min(end, as_of)
        f.open = self.open.at(t)
        f.overdue = self.overdue.at(t)
        return f, households

    def notable(self, start: datetime, end: datetime, as_of: datetime, limit: int) -> list[Notable]:
        facts = self.facts
        reasons: dict[str, set[str]] = {}
        for e in facts.escalations:
            if start <= e.at < end:
                reasons.setdefault(e.case_id, set()).add(e.level)
        for r in facts.rounds:
            if r.reopened_at is not None and start <= r.reopened_at < end:
                kind = "spot_check_failed" if r.reason == "spot_check_failed" else "reopened"
                reasons.setdefault(r.case_id, set()).add(kind)
            if r.closed_at is not None and r.unreached and start <= r.closed_at < end:
                reasons.setdefault(r.case_id, set()).add("closed_unreached")
        for v in facts.visits:
            if v.overdue_at is not None and start <= v.overdue_at < end:
                reasons.setdefault(v.case_id, set()).add("visit_overdue")
        t = min(end, as_of)
        for case in facts.cases.values():
            if case.priority_resident and case.opened_at < t and not _inside(self.closed.get(case.case_id, []), t):
                reasons.setdefault(case.case_id, set()).add("priority_resident_open")
        out = []
        for case_id, why in reasons.items():
            info = facts.cases.get(case_id)
            ordered = tuple(sorted(why, key=SEVERITY.index))
            out.append(
                Notable(
                    case_id=case_id,
                    category=info.category if info else "other",
                    building_id=info.building_id if info else "",
                    household_id=info.household_id if info else None,
                    reasons=ordered,
                )
            )
        out.sort(key=lambda n: (SEVERITY.index(n.reasons[0]), n.case_id))
        return out[:limit]


SEVERITY = (
    "supervision",
    "spot_check_failed",
    "reopened",
    "visit_overdue",
    "notice",
    "closed_unreached",
    "reminder",
    "priority_resident_open",
)


def _inside(spans: Sequence[Span], t: datetime) -> bool:
    return any(s < t <= e for s, e in spans)


def daily(facts: AreaFacts, day: date, *, zone: ZoneInfo, as_of: datetime, notable_limit: int) -> DayReport:
    area = _Area(facts)
    start, end = day_window(day, zone)
    figures, _ = area.figures(start, end, as_of)
    return DayReport(day, figures, area.notable(start, end, as_of, notable_limit))


def season(facts: AreaFacts, first: date, last: date, *, zone: ZoneInfo, as_of: datetime) -> SeasonReport:
    """Every day of [first, last] and the totals of the range: flows over the whole range (households and
    escalated cases counted once), stocks at its end."""
    area = _Area(facts)
    rows = [DayReport(day, area.figures(*day_window(day, zone), as_of)[0], []) for day in days(first, last)]
    totals, _ = area.figures(day_window(first, zone)[0], day_window(last, zone)[1], as_of)
    return SeasonReport(first, last, totals, rows)
