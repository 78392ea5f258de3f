"""Unit scorecards (考核): pure formulas over the facts follow-up records from dispatch's events. No I/O.

A period [start, end) selects a cohort: the assignments dispatched in it (within the caller's scope). Every
figure of a line is a property of that cohort as known at ``as_of`` (now): what the units did, which deadlines
have passed, which rounds the return visits and spot-checks have decided so far:

- assignments      = |cohort|
- returns          = assignments the unit handed back (退单)
- escalations      = escalation steps (催办/通报/督办) raised on the cohort's assignments; a whole-case escalation
                     names no unit and is charged to none
- on_time_sign_in_rate = signed_in_on_time / sign_in_counted, where sign_in_counted = assignments signed in +
                     assignments never signed in whose sign-in deadline passed before they ended (returned,
                     withdrawn, or still open at ``as_of``). A unit that hands an order back before its deadline
                     is not counted; one that sits on it past the deadline is.
- on_time_resolve_rate = resolved_on_time / resolve_counted, the same way with the resolve deadline (moved by
                     an approved 延期).
- redo_rate        = rounds_reopened / rounds, over the rounds the unit took part in (an assignment of the round
                     it resolved) that have a verdict: reopened by the return visit or failed by a spot-check,
                     over closed + reopened.
- spot_checks, spot_check_failures = recorded weekly checks of those rounds (a failure is also a reopened round)
- satisfaction_rate = (满意 + 基本满意) / return visits with an answer, over the concluded return visits of the
                     unit's rounds (a resident not reached gives no answer and is not counted).
- temperature_compliance = visits whose every room ≥ the district standard in force / visits with readings.
- mean_temp_c      = mean over those visits of each visit's mean room temperature (households weigh equally).
- score            = 100 × Σ wᵢ·rᵢ / Σ wᵢ over the rates rᵢ a line has (redo counts as 1 − redo_rate);
                     None when it has none. Weights are configurable (FOLLOWUP_SCORE_WEIGHTS).

Lines per unit type or per district pool the facts (sums of numerators and denominators, each round and visit
once), not averages of the units' rates. The district of an assignment is the district of its case.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from services.followup.states import ROUND_DECIDED, SPOT_CHECK_RECORDED, AssignmentStatus, RoundOutcome, SpotCheckStatus

FORMULAS = {
    "assignments": "本期派给该单位的派单数（按派单时间计入考核期）",
    "returns": "其中退单数",
    "escalations": "其中被催办/通报/督办的次数（整案督办不计入单位）",
    "on_time_sign_in_rate": "按时签收数 ÷（已签收数 + 超过签收时限仍未签收数）",
    "on_time_resolve_rate": "按时办结数 ÷（已办结数 + 超过办结时限仍未办结数），延期批准后以新时限为准",
    "redo_rate": "返工轮次（回访未通过或抽核未通过）÷ 该单位参与并已有结论的轮次",
    "satisfaction_rate": "（满意 + 基本满意）÷ 有满意度答复的回访数",
    "temperature_compliance": "各房间均达到本区室温标准的回访数 ÷ 有实测室温的回访数",
    "mean_temp_c": "各次回访房间平均室温的平均值",
    "score": "100 × Σ 权重×指标 ÷ Σ 权重（返工率按 1 − 返工率计；无数据的指标不计）",
}

RATES = ("on_time_sign_in_rate", "on_time_resolve_rate", "satisfaction_rate", "temperature_compliance", "redo_rate")
LOWER_IS_BETTER = frozenset({"redo_rate"})
RANKABLE = (*RATES, "mean_temp_c", "score")


class Group(StrEnum):
    UNIT = "unit"
    UNIT_TYPE = "unit_type"
    DISTRICT = "district"


@dataclass(frozen=True, slots=True)
class AssignmentRow:
    id: str
    case_id: str
    round: int
    unit_id: str
    unit_type: str
    district_id: str
    dispatched_at: datetime
    sign_in_due: datetime
    resolve_due: datetime
    status: str
    signed_in_at: datetime | None = None
    sign_in_on_time: bool | None = None
    resolved_at: datetime | None = None
    resolve_on_time: bool | None = None
    returned_at: datetime | None = None
    withdrawn_at: datetime | None = None
    escalations: int = 0
    photos: int = 0
    photos_outside_window: int = 0


@dataclass(frozen=True, slots=True)
class RoundRow:
    case_id: str
    round: int
    outcome: str  # pending, closed, reopened
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class VisitRow:
    """A concluded return visit (closed or reopened; not pending, not cancelled)."""

    id: str
    case_id: str
    round: int
    satisfaction: str | None
    room_temps_c: tuple[float, ...]
    standard_c: float


@dataclass(frozen=True, slots=True)
class CheckRow:
    case_id: str
    round: int
    status: str  # pending, passed, failed


@dataclass(slots=True)
class Line:
    key: str
    unit_type: str | None = None
    assignments: int = 0
    returns: int = 0
    escalations: int = 0
    sign_in_counted: int = 0
    signed_in_on_time: int = 0
    resolve_counted: int = 0
    resolved_on_time: int = 0
    rounds: int = 0
    rounds_reopened: int = 0
    spot_checks: int = 0
    spot_check_failures: int = 0
    visits_answered: int = 0
    visits_satisfied: int = 0
    visits_measured: int = 0
    visits_compliant: int = 0
    photos: int = 0
    photos_flagged: int = 0
    on_time_sign_in_rate: float | None = None
    on_time_resolve_rate: float | None = None
    redo_rate: float | None = None
    satisfaction_rate: float | None = None
    temperature_compliance: float | None = None
    mean_temp_c: float | None = None
    score: float | None = None
    rank: int | None = None
    _temp_sum: float = field(default=0.0, repr=False)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("_temp_sum")
        return out


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _ended(a: AssignmentRow, as_of: datetime) -> datetime:
    """When the unit's clocks stopped without the job being done: handed back, withdrawn, or still running."""
    return min(t for t in (a.returned_at, a.withdrawn_at, as_of) if t is not None)


def key_of(a: AssignmentRow, group: Group) -> str:
    if group is Group.UNIT:
        return a.unit_id
    if group is Group.UNIT_TYPE:
        return a.unit_type
    return a.district_id


def compute(
    assignments: Iterable[AssignmentRow],
    rounds: Iterable[RoundRow],
    visits: Iterable[VisitRow],
    checks: Iterable[CheckRow],
    *,
    group: Group,
    as_of: datetime,
    weights: Mapping[str, float],
    rank_by: str = "score",
) -> list[Line]:
    """Scorecard lines of the given cohort of assignments, ranked best first by ``rank_by``."""
    outcome = {(r.case_id, r.round): r for r in rounds}
    visits_of: dict[tuple[str, int], list[VisitRow]] = {}
    for v in visits:
        visits_of.setdefault((v.case_id, v.round), []).append(v)
    checks_of: dict[tuple[str, int], list[CheckRow]] = {}
    for c in checks:
        checks_of.setdefault((c.case_id, c.round), []).append(c)

    lines: dict[str, Line] = {}
    took_part: dict[str, set[tuple[str, int]]] = {}
    for a in assignments:
        key = key_of(a, group)
        line = lines.setdefault(key, Line(key=key, unit_type=a.unit_type if group is Group.UNIT else None))
        ended = _ended(a, as_of)
        line.assignments += 1
        line.returns += a.returned_at is not None
        line.escalations += a.escalations
        line.photos += a.photos
        line.photos_flagged += a.photos_outside_window
        if a.signed_in_at is not None or a.sign_in_due < ended:
            line.sign_in_counted += 1
            line.signed_in_on_time += bool(a.sign_in_on_time)
        if a.resolved_at is not None or a.resolve_due < ended:
            line.resolve_counted += 1
            line.resolved_on_time += bool(a.resolve_on_time)
        if a.status == AssignmentStatus.RESOLVED:
            took_part.setdefault(key, set()).add((a.case_id, a.round))

    for key, line in lines.items():
        for rk in sorted(took_part.get(key, ())):
            r = outcome.get(rk)
            if r is not None and r.outcome in ROUND_DECIDED:
                line.rounds += 1
                line.rounds_reopened += r.outcome == RoundOutcome.REOPENED
            for c in checks_of.get(rk, ()):
                if c.status in SPOT_CHECK_RECORDED:
                    line.spot_checks += 1
                    line.spot_check_failures += c.status == SpotCheckStatus.FAILED
            for v in visits_of.get(rk, ()):
                if v.satisfaction is not None:
                    line.visits_answered += 1
                    line.visits_satisfied += v.satisfaction in ("satisfied", "mostly")
                if v.room_temps_c:
                    line.visits_measured += 1
                    line.visits_compliant += min(v.room_temps_c) >= v.standard_c
                    line._temp_sum += sum(v.room_temps_c) / len(v.room_temps_c)
        line.on_time_sign_in_rate = _ratio(line.signed_in_on_time, line.sign_in_counted)
        line.on_time_resolve_rate = _ratio(line.resolved_on_time, line.resolve_counted)
        line.redo_rate = _ratio(line.rounds_reopened, line.rounds)
        line.satisfaction_rate = _ratio(line.visits_satisfied, line.visits_answered)
        line.temperature_compliance = _ratio(line.visits_compliant, line.visits_measured)
        line.mean_temp_c = round(line._temp_sum / line.visits_measured, 2) if line.visits_measured else None
        line.score = score(line, weights)
    return rank(list(lines.values()), rank_by)


def score(line: Line, weights: Mapping[str, float]) -> float | None:
    total = weight = 0.0
    for name in RATES:
        value: float | None = getattr(line, name)
        w = weights.get(name, 0.0)
        if value is None or w <= 0:
            continue
        total += w * (1 - value if name in LOWER_IS_BETTER else value)
        weight += w
    return round(100 * total / weight, 2) if weight else None


class Ranked(Protocol):
    key: str
    rank: int | None


R = TypeVar("R", bound=Ranked)


def rank(
    lines: Sequence[R], by: str, *, rankable: Iterable[str] = RANKABLE, lower_is_better: Iterable[str] = LOWER_IS_BETTER
) -> list[R]:
    """Best first; lines without the figure last; equal figures share a rank (1, 2, 2, 4). The assessment ranks
    its own lines with its own figures."""
    if by not in set(rankable):
        raise ValueError(f"cannot rank by {by!r}")
    sign = 1 if by in set(lower_is_better) else -1

    def sort_key(line: R) -> tuple[bool, float, str]:
        value: float | None = getattr(line, by)
        return (value is None, sign * value if value is not None else 0.0, line.key)

    ordered = sorted(lines, key=sort_key)
    previous: tuple[float, int] | None = None
    for position, line in enumerate(ordered, start=1):
        value: float | None = getattr(line, by)
        if value is None:
            line.rank = None
            continue
        line.rank = previous[1] if previous is not None and previous[0] == value else position
        previous = (value, line.rank)
    return ordered
