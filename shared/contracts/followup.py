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
    household_id: str | None = Field(default=None, description="The household visited; None for a building visit.")
    reached: bool = Field(default=True, description="False: the resident could not be reached (attempt ≥ 2).")
    attempt: int = Field(default=1, ge=1, description="Which attempt concluded the visit.")


class VisitUnreached(EventPayload):
    """The grid worker went back but could not reach the resident; the visit stays open for another attempt."""

    event_type = "VisitUnreached"

    visit_id: str
    case_id: str
    round: int
    attempt: int = Field(ge=1)
    visited_by: str
    visited_at: datetime
    due_at: datetime = Field(description="The deadline of the next attempt.")


class VisitOverdue(EventPayload):
    """A return visit was not concluded by its deadline: escalated to the community (社区督促)."""

    event_type = "VisitOverdue"

    visit_id: str
    case_id: str
    round: int
    grid_id: str
    community_id: str
    street_id: str
    district_id: str
    due_at: datetime
    overdue_at: datetime
    attempts: int = Field(ge=0, description="Unreached attempts made before the deadline.")


class CaseClosed(EventPayload):
    """The return visit confirmed the fix: warm enough and not dissatisfied (办结)."""

    event_type = "CaseClosed"

    case_id: str
    round: int
    min_temp_c: float
    satisfaction: Satisfaction | None
    closed_at: datetime
    unreached: bool = Field(
        default=False, description="Closed on the measured temperature alone: the resident was not reached twice."
    )


class CaseReopened(EventPayload):
    """The return visit found the fix wanting: the case goes back to dispatch for another round."""

    event_type = "CaseReopened"

    case_id: str
    round: int = Field(description="The round that failed.")
    reason: ReopenReason
    min_temp_c: float
    satisfaction: Satisfaction | None
    reopened_at: datetime
    spot_check_id: str | None = Field(default=None, description="The weekly spot-check that failed the case, if any.")


class SpotCheckScheduled(EventPayload):
    """每周随机抽核: a closed case was drawn for a check by the street task force."""

    event_type = "SpotCheckScheduled"

    spot_check_id: str
    case_id: str
    round: int = Field(description="The closed round to verify.")
    street_id: str
    week: str = Field(description="ISO week of the closures sampled, e.g. 2026-W47.")
    seed: str = Field(description="Seed of the draw: the sample is reproducible from seed, street and week.")


class SpotCheckRecorded(EventPayload):
    """The street task force checked a closed case; a failure also reopens it (CaseReopened)."""

    event_type = "SpotCheckRecorded"

    spot_check_id: str
    case_id: str
    round: int
    passed: bool
    room_temps_c: list[float]
    satisfaction: Satisfaction | None
    record_mismatch: bool = Field(description="The return-visit record did not match what the check found.")
    checked_by: str
    checked_at: datetime
