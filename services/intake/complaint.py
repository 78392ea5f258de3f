"""One complaint, as every channel hands it in (``Complaint``), and as intake understood it (``Understood``): placed in
the registry, its text redacted, its priority set. The report's row and the events about it are both read from
``Understood``, so what is stored and what is announced cannot drift apart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.intake.models import Building, Household
from shared.contracts.common import Category, Channel, Location, Priority
from shared.contracts.intake import ComplaintGrouped, ComplaintReported


@dataclass(frozen=True, slots=True, kw_only=True)
class Complaint:
    """What a channel received: a grid worker's one-tap report, a 12345 order, an Open311 request, a sensor's alarm,
    a finding of a household visit."""

    channel: Channel
    building: Building
    household: Household | None
    category: Category
    description: str
    reporter_kind: str  # grid_worker, hotline, resident, sensor
    reporter_id: str | None
    at: datetime
    measured_temp_c: float | None = None
    photo_refs: tuple[str, ...] = ()
    external_id: str | None = None  # the channel's own id (12345 order, a client's idempotency key): one report each
    integration_id: str | None = None  # the 12345 platform owed status callbacks
    order_no: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Understood:
    """A complaint placed, redacted and prioritised, with the id its report gets."""

    complaint: Complaint
    report_id: str
    location: Location
    priority: Priority
    priority_resident: bool
    measured_temp_c: float | None  # the channel's reading, or one found in the text
    public_text: str  # the description with the household's names and numbers taken out

    @property
    def key(self) -> str:
        """The Kafka key of its events: the household, or the building when none is named."""
        return self.location.household_id or self.complaint.building.id

    def columns(self) -> dict[str, Any]:
        """The report row's own columns (the incident's, and the row's timestamps, come from the caller)."""
        c = self.complaint
        return {
            "id": self.report_id,
            "channel": c.channel.value,
            "external_id": c.external_id,
            "category": c.category.value,
            "priority": self.priority.value,
            "priority_resident": self.priority_resident,
            "household_id": self.location.household_id,
            "building_id": c.building.id,
            "description": self.public_text,
            "measured_temp_c": self.measured_temp_c,
            "reporter_kind": c.reporter_kind,
            "reporter_id": c.reporter_id,
            "integration_id": c.integration_id,
            "order_no": c.order_no,
        }

    def _told(self) -> dict[str, Any]:
        """What both events say of the complaint."""
        c = self.complaint
        return {
            "report_id": self.report_id,
            "channel": c.channel,
            "category": c.category,
            "priority": self.priority,
            "priority_resident": self.priority_resident,
            "location": self.location,
            "description": self.public_text,
            "measured_temp_c": self.measured_temp_c,
            "reporter_kind": c.reporter_kind,
            "reporter_id": c.reporter_id,
            "reported_at": c.at,
        }

    def reported(self, *, group_id: str) -> ComplaintReported:
        return ComplaintReported(**self._told(), photo_refs=list(self.complaint.photo_refs), group_id=group_id)

    def grouped(self, *, group_id: str, lead_report_id: str, case_id: str | None, scope: str) -> ComplaintGrouped:
        return ComplaintGrouped(
            **self._told(), group_id=group_id, lead_report_id=lead_report_id, case_id=case_id, scope=scope
        )
