"""Events produced by the follow-up service on the verdicts topic (key: case id)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from shared.contracts.common import Satisfaction
from shared.events import EventPayload


class ReopenReason(StrEnum):
    TOO_COLD = "too_cold"
    DISSATISFIED = "dissatisfied"
    BOTH = "both"
    SPOT_CHECK_FAILED = "spot_check_failed"  # 每周随机抽核 found the closed case wanting


class VisitScheduled(EventPayload):
    """A return visit (回访) is due for a resolved round."""

    event_type = "VisitScheduled"

    visit_id: str
    case_id: str
    round: int
    household_id: str | None
    grid_id: str
    due_at: datetime


class VisitRecorded(EventPayload):
    """The grid worker went back, measured the rooms and asked the resident."""

    event_type = "VisitRecorded"

    visit_id: str
    case_id: str
    round: int
    room_temps_c: list[float]
    satisfaction: Satisfaction | None
    visited_by: str
    visited_at: datetime


class CaseClosed(EventPayload):
    """The return visit confirmed the fix: warm enough and not dissatisfied (办结)."""

    event_type = "CaseClosed"

    case_id: str
    round: int
    min_temp_c: float
    satisfaction: Satisfaction | None
    closed_at: datetime


class CaseReopened(EventPayload):
    """The return visit found the fix wanting: the case goes back to dispatch for another round."""

    event_type = "CaseReopened"

    case_id: str
    round: int = Field(description="The round that failed.")
    reason: ReopenReason
    min_temp_c: float
    satisfaction: Satisfaction | None
    reopened_at: datetime
