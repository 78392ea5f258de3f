"""Events produced by the dispatch service on the cases topic (key: case id)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from shared.contracts.common import Category, Location, Priority, Tier, UnitType
from shared.events import EventPayload


class CaseOpened(EventPayload):
    """A case was opened for one or more reports (受理)."""

    event_type = "CaseOpened"

    case_id: str
    report_ids: list[str]
    category: Category
    priority: Priority
    tier: Tier
    priority_resident: bool
    location: Location
    opened_at: datetime


class CaseAssigned(EventPayload):
    """A responsible unit was convened for a round of the case (派单 / 吹哨)."""

    event_type = "CaseAssigned"

    case_id: str
    assignment_id: str
    round: int = Field(ge=1)
    unit_id: str
    unit_type: UnitType
    sign_in_due: datetime
    on_site_due: datetime
    resolve_due: datetime


class AssignmentSignedIn(EventPayload):
    """The unit signed in for its assignment (签收 / 报到)."""

    event_type = "AssignmentSignedIn"

    case_id: str
    assignment_id: str
    unit_id: str
    signed_in_at: datetime
    on_time: bool


class AssignmentArrived(EventPayload):
    """The unit reached the site."""

    event_type = "AssignmentArrived"

    case_id: str
    assignment_id: str
    unit_id: str
    arrived_at: datetime
    on_time: bool


class AssignmentResolved(EventPayload):
    """The unit reported its part done, with what it did."""

    event_type = "AssignmentResolved"

    case_id: str
    assignment_id: str
    unit_id: str
    resolved_at: datetime
    on_time: bool
    action_taken: str
    measured_temp_c: float | None = None


class CaseResolved(EventPayload):
    """Every assignment of the round is resolved: the case awaits its return visit (回访)."""

    event_type = "CaseResolved"

    case_id: str
    round: int
    category: Category
    priority: Priority
    location: Location
    report_ids: list[str]
    unit_ids: list[str]
    resolved_at: datetime


class CaseRoundStarted(EventPayload):
    """A reopened case was sent back to its units for another round (发回重办)."""

    event_type = "CaseRoundStarted"

    case_id: str
    round: int
    redo_count: int
    priority: Priority
    reason: str
