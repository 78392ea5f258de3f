"""The facts of an area a report is computed from (services.followup.reports): what ``queries.load_area`` reads
from follow-up's copies of the other services' events, as plain values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

NEVER = datetime.max.replace(tzinfo=ZoneInfo("UTC"))


@dataclass(frozen=True, slots=True)
class ReportFact:
    report_id: str
    reported_at: datetime
    case_id: str | None


@dataclass(frozen=True, slots=True)
class LedgerFact:
    visited_at: datetime
    household_key: str
    residents_reached: int
    findings: int  # problems found on the visit
    unreported: int  # of which not raised as a report: settled on the spot


@dataclass(frozen=True, slots=True)
class CaseInfo:
    case_id: str
    category: str
    building_id: str
    household_id: str | None
    priority_resident: bool
    opened_at: datetime
    withdrawn_at: datetime | None = None  # 撤单: from then on the case is no longer open, for good


@dataclass(frozen=True, slots=True)
class RoundFact:
    case_id: str
    round: int
    closed_at: datetime | None
    reopened_at: datetime | None
    reason: str | None
    unreached: bool


@dataclass(frozen=True, slots=True)
class EscalationFact:
    case_id: str
    at: datetime
    level: str


@dataclass(frozen=True, slots=True)
class ReturnVisitFact:
    case_id: str
    scheduled_at: datetime
    due_at: datetime
    status: str  # pending, closed, reopened, cancelled
    concluded_at: datetime | None
    overdue_at: datetime | None
    satisfaction: str | None
    room_temps_c: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class ClockFact:
    """One unit's assignment with the two clocks that make a case overdue."""

    case_id: str
    dispatched_at: datetime
    sign_in_due: datetime
    signed_in_at: datetime | None
    resolve_due: datetime
    ended_at: datetime | None  # resolved, returned or withdrawn


@dataclass(slots=True)
class AreaFacts:
    reports: list[ReportFact] = field(default_factory=list)
    ledger: list[LedgerFact] = field(default_factory=list)
    cases: dict[str, CaseInfo] = field(default_factory=dict)
    rounds: list[RoundFact] = field(default_factory=list)
    escalations: list[EscalationFact] = field(default_factory=list)
    visits: list[ReturnVisitFact] = field(default_factory=list)
    clocks: list[ClockFact] = field(default_factory=list)
