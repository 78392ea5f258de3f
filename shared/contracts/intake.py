"""Events produced by the intake service on the complaints topic."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from shared.contracts.common import Category, Channel, Location, Priority
from shared.events import EventPayload
from shared.privacy import PublicText


class ComplaintReported(EventPayload):
    """A complaint has been accepted, stored, enriched from the registry and classified."""

    event_type = "ComplaintReported"

    report_id: str
    channel: Channel
    category: Category
    priority: Priority
    priority_resident: bool = Field(description="独居老人、残疾人、低保户 等重点人群.")
    location: Location
    description: PublicText = Field(max_length=2000)
    measured_temp_c: float | None = None
    photo_refs: list[str] = Field(default_factory=list)
    reporter_kind: str = Field(description="grid_worker, resident, hotline, sensor")
    reporter_id: str | None = Field(default=None, description="Grid worker id or integration id; never a phone.")
    reported_at: datetime
    group_id: str | None = Field(
        default=None,
        description="The incident this report opens; later reports of it arrive as ComplaintGrouped, not as cases.",
    )


class ComplaintGrouped(EventPayload):
    """A complaint was accepted and linked to an open incident (same household and category, or a building's burst
    pipe, or a substation's outage): no new case. Its reporter is told the incident's status and closure."""

    event_type = "ComplaintGrouped"

    report_id: str
    group_id: str
    lead_report_id: str = Field(description="The report whose ComplaintReported opened the incident's case.")
    case_id: str | None = Field(description="The incident's case, once dispatch has opened it.")
    scope: str = Field(description="household, building or substation")
    channel: Channel
    category: Category
    priority: Priority
    priority_resident: bool
    location: Location
    description: PublicText = Field(max_length=2000)
    measured_temp_c: float | None = None
    reporter_kind: str
    reporter_id: str | None = None
    reported_at: datetime


class HouseholdVisited(EventPayload):
    """访民问暖: a grid worker visited a household (feeds the daily report: visits, residents reached, problems)."""

    event_type = "HouseholdVisited"

    visit_id: str
    grid_worker_id: str
    location: Location
    visited_at: datetime
    residents_reached: int = Field(ge=0, description="People spoken to in the household.")
    measured_temp_c: float | None = None
    problem_found: bool
    report_id: str | None = Field(default=None, description="The report raised from the finding, if any.")
    report_ids: list[str] = Field(default_factory=list, description="Every report raised from the visit's findings.")
    findings: int = Field(default=0, ge=0, description="Problems found (排查问题).")


class ReportWithdrawn(EventPayload):
    """撤单: the 12345 platform withdrew its order (the caller's problem solved, or the order misfiled). Dispatch
    withdraws the case once every report of it is withdrawn; a case that still has other reports goes on."""

    event_type = "ReportWithdrawn"

    report_id: str
    case_id: str | None = Field(description="The report's case, if intake knows it yet.")
    lead_report_id: str = Field(
        description="The report whose ComplaintReported opened (or will open) the case: this one, or its incident's "
        "first."
    )
    channel: Channel
    operation_id: str = Field(description="The platform's id of the operation (idempotency).")
    reason: PublicText = Field(max_length=500)
    last_of_case: bool = Field(description="Every report of the case (or incident) is now withdrawn.")
    withdrawn_at: datetime


class ReportSupplemented(EventPayload):
    """补充诉求: the resident called again with more facts; appended to the case and told to its units."""

    event_type = "ReportSupplemented"

    report_id: str
    case_id: str | None
    lead_report_id: str
    channel: Channel
    operation_id: str
    content: PublicText = Field(max_length=2000)
    priority: Priority | None = Field(default=None, description="The priority the new facts call for, if raised.")
    priority_resident: bool = Field(default=False, description="The new facts name a priority resident (重点人群).")
    supplemented_at: datetime


class ReportHurried(EventPayload):
    """催单: the resident called again because nothing happened. A repeat complaint (重复诉求) of the case."""

    event_type = "ReportHurried"

    report_id: str
    case_id: str | None
    lead_report_id: str
    channel: Channel
    operation_id: str
    content: PublicText | None = Field(default=None, max_length=2000)
    hurried_at: datetime
