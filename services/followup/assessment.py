"""The 12345 hotline's assessment (考核) of units: 响应率, 解决率, 满意率 and their weighted composite, with
按时签收率, 按时办结率 and 重复诉求率 beside them. Pure formulas over the same facts and the same cohort as the
unit scorecard (``scorecard``), plus the hurries (催单) of the cohort's cases. No I/O.

The cohort: the assignments dispatched in the period [start, end) on cases in the caller's scope, leaving out
every case withdrawn by its 12345 platform (撤单: it counts against no unit; ``queries.scorecard_facts``). Each
figure is what is known at ``as_of``. A unit's *cases* are the distinct cases of its assignments in the cohort; the
*rounds it took part in* are those of its cohort assignments that it resolved (办结 of its part).

- 响应率  response_rate        = signed_in / sign_in_due
- 按时签收率 on_time_sign_in_rate = signed_in_on_time / sign_in_due
    sign_in_due = assignments signed in + assignments never signed in whose sign-in deadline passed before they
    ended (returned, withdrawn, or still open at ``as_of``). An order handed back (退单) or withdrawn before its
    deadline without a sign-in is not due; the scorecard's 应签收 is the same count.
- 按时办结率 on_time_resolve_rate = resolved_on_time / resolve_due
    resolve_due = assignments resolved + assignments not resolved whose resolve deadline (moved by an approved 延期)
    passed before they ended. Sitting on an order past its deadline counts against the unit.
- 解决率  resolution_rate      = cases_closed / cases_decided
    For each of the unit's cases, the latest round it took part in decides: closed (办结 confirmed by the return
    visit, and not failed by a spot-check since) is solved; reopened (发回重办, or a failed spot-check) is not;
    a round still awaiting its visit leaves the case out (not decided yet), and so does a case the unit took no
    part in fixing (it only returned the order, or its order was withdrawn).
- 满意率  satisfaction_rate    = visits_satisfied / visits_answered
    满意 and 基本满意 over the concluded return visits with an answer, of the rounds the unit took part in (each
    household visited is one answer; a resident not reached gives none).
- 重复诉求率 repeat_complaint_rate = cases_hurried / cases
    A case is hurried for a unit when a 催单 of the case named the unit: dispatch names the units holding an open
    clock of the case at the moment of the hurry. A unit that had already finished its part, or handed the order
    back, is not charged; a hurry while nobody held a clock (the case awaiting routing or its return visit) is
    charged to no unit.
- composite = 100 × Σ wᵢ·rᵢ / Σ wᵢ over 响应率, 解决率, 满意率 a line has (FOLLOWUP_ASSESSMENT_WEIGHTS,
    default 30 / 35 / 35); None when it has none of them.

Lines per unit type pool the facts (sums of numerators and denominators; a case, a round, a visit once per line),
not averages of the units' rates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from services.followup.scorecard import AssignmentRow, Group, RoundRow, VisitRow, key_of, rank
from services.followup.states import AssignmentStatus, RoundOutcome

WEIGHTED = ("response_rate", "resolution_rate", "satisfaction_rate")
RATES = (*WEIGHTED, "on_time_sign_in_rate", "on_time_resolve_rate", "repeat_complaint_rate")
LOWER_IS_BETTER = frozenset({"repeat_complaint_rate"})
RANKABLE = (*RATES, "composite")
SATISFIED = frozenset({"satisfied", "mostly"})  # 满意 + 基本满意


class By(StrEnum):
    UNIT = "unit"
    UNIT_TYPE = "unit_type"

    @property
    def group(self) -> Group:
        return Group(self.value)


@dataclass(frozen=True, slots=True)
class HurryRow:
    """One 催单 of a case and the units it named."""

    case_id: str
    unit_ids: tuple[str, ...]


@dataclass(slots=True)
class Line:
    key: str
    unit_type: str | None = None
    assignments: int = 0
    cases: int = 0
    sign_in_due: int = 0
    signed_in: int = 0
    signed_in_on_time: int = 0
    resolve_due: int = 0
    resolved_on_time: int = 0
    cases_decided: int = 0
    cases_closed: int = 0
    visits_answered: int = 0
    visits_satisfied: int = 0
    cases_hurried: int = 0
    response_rate: float | None = None
    resolution_rate: float | None = None
    satisfaction_rate: float | None = None
    on_time_sign_in_rate: float | None = None
    on_time_resolve_rate: float | None = None
    repeat_complaint_rate: float | None = None
    composite: float | None = None
    rank: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _ended(a: AssignmentRow, as_of: datetime) -> datetime:
    return min(t for t in (a.returned_at, a.withdrawn_at, as_of) if t is not None)


def compute(
    assignments: Iterable[AssignmentRow],
    rounds: Iterable[RoundRow],
    visits: Iterable[VisitRow],
    hurries: Iterable[HurryRow],
    *,
    by: By,
    as_of: datetime,
    weights: Mapping[str, float],
    rank_by: str = "composite",
) -> list[Line]:
    """Assessment lines of the cohort, ranked best first by ``rank_by``."""
    outcome = {(r.case_id, r.round): r.outcome for r in rounds}
    visits_of: dict[tuple[str, int], list[VisitRow]] = {}
    for v in visits:
        visits_of.setdefault((v.case_id, v.round), []).append(v)
    named: dict[str, set[str]] = {}
    for h in hurries:
        named.setdefault(h.case_id, set()).update(h.unit_ids)

    group = by.group
    lines: dict[str, Line] = {}
    cases: dict[str, set[str]] = {}
    hurried: dict[str, set[str]] = {}
    took_part: dict[str, dict[str, set[int]]] = {}  # key → case → rounds the key resolved its part of
    for a in assignments:
        key = key_of(a, group)
        line = lines.setdefault(key, Line(key=key, unit_type=a.unit_type if by is By.UNIT else None))
        ended = _ended(a, as_of)
        line.assignments += 1
        cases.setdefault(key, set()).add(a.case_id)
        if a.unit_id in named.get(a.case_id, ()):
            hurried.setdefault(key, set()).add(a.case_id)
        if a.signed_in_at is not None or a.sign_in_due < ended:
            line.sign_in_due += 1
            line.signed_in += a.signed_in_at is not None
            line.signed_in_on_time += bool(a.sign_in_on_time)
        if a.resolved_at is not None or a.resolve_due < ended:
            line.resolve_due += 1
            line.resolved_on_time += bool(a.resolve_on_time)
        if a.status == AssignmentStatus.RESOLVED:
            took_part.setdefault(key, {}).setdefault(a.case_id, set()).add(a.round)

    for key, line in lines.items():
        line.cases = len(cases[key])
        line.cases_hurried = len(hurried.get(key, ()))
        for case_id, rounds_ in sorted(took_part.get(key, {}).items()):
            verdict = outcome.get((case_id, max(rounds_)))
            if verdict in (RoundOutcome.CLOSED, RoundOutcome.REOPENED):
                line.cases_decided += 1
                line.cases_closed += verdict == RoundOutcome.CLOSED
            for round_ in sorted(rounds_):
                for v in visits_of.get((case_id, round_), ()):
                    if v.satisfaction is not None:
                        line.visits_answered += 1
                        line.visits_satisfied += v.satisfaction in SATISFIED
        line.response_rate = _ratio(line.signed_in, line.sign_in_due)
        line.on_time_sign_in_rate = _ratio(line.signed_in_on_time, line.sign_in_due)
        line.on_time_resolve_rate = _ratio(line.resolved_on_time, line.resolve_due)
        line.resolution_rate = _ratio(line.cases_closed, line.cases_decided)
        line.satisfaction_rate = _ratio(line.visits_satisfied, line.visits_answered)
        line.repeat_complaint_rate = _ratio(line.cases_hurried, line.cases)
        line.composite = composite(line, weights)
    return rank(list(lines.values()), rank_by, rankable=RANKABLE, lower_is_better=LOWER_IS_BETTER)


def composite(line: Line, weights: Mapping[str, float]) -> float | None:
    """100 × Σ wᵢ·rᵢ / Σ wᵢ over the weighted rates the line has; weights need not sum to 100."""
    total = weight = 0.0
    for name in WEIGHTED:
        value: float | None = getattr(line, name)
        w = weights.get(name, 0.0)
        if value is None or w <= 0:
            continue
        total += w * value
        weight += w
    return round(100 * total / weight, 2) if weight else None
