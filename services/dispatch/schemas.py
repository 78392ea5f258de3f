"""HTTP shapes of the dispatch API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.dispatch.domain import ReturnReason
from services.dispatch.workdays import DaysSource
from shared.contracts.common import Tier, UnitType
from shared.evidence import MAX_PHOTOS, PhotoKey, PhotoOut
from shared.inputs import IsoDateTime
from shared.privacy import STORED, FreeText
from shared.text import CleanText

ScopeKind = Annotated[str, Field(max_length=20)]
ScopeIds = Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=10_000)]


class UnitIn(BaseModel):
    id: str = Field(min_length=1, max_length=64)
    type: UnitType
    name: CleanText = Field(min_length=1, max_length=200)
    district_id: str = Field(min_length=1, max_length=64)
    covers: dict[ScopeKind, ScopeIds] = Field(
        default_factory=dict, max_length=10, description="scope kind (substation, compound, street, district) → ids"
    )


class UnitsIn(BaseModel):
    units: list[UnitIn] = Field(max_length=10_000)


class UnitOut(BaseModel):
    """A responsible unit as a page names it (no coverage, no people)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    type: str
    name: str
    district_id: str


class ResolveIn(BaseModel):
    action_taken: FreeText = Field(
        min_length=1, max_length=2000, description="What was done (处置情况), stored redacted."
    )
    measured_temp_c: float | None = Field(
        default=None, ge=-10, le=40, strict=True, description="Indoor temperature after the fix."
    )
    photo_refs: list[PhotoKey] = Field(
        default_factory=list,
        max_length=MAX_PHOTOS,
        description="Photos of the fix, uploaded with this service's ``POST /v1/photos/uploads``.",
    )


class Position(BaseModel):
    """Where the phone was (WGS-84); stored rounded to 3 decimals (~100 m): enough to see the crew was there."""

    lat: float = Field(ge=-90, le=90, strict=True)
    lon: float = Field(ge=-180, le=180, strict=True)
    accuracy_m: float | None = Field(default=None, ge=0, le=100_000, strict=True)

    def coarse(self) -> dict[str, float]:
        out = {"lat": round(self.lat, 3), "lon": round(self.lon, 3)}
        if self.accuracy_m is not None:
            out["accuracy_m"] = float(max(100, round(self.accuracy_m)))
        return out


class ArriveIn(BaseModel):
    """到场, optionally with the phone's position."""

    position: Position | None = None


class ProgressIn(BaseModel):
    note: FreeText = Field(min_length=1, max_length=2000, description="Progress note (办理进展), stored redacted.")


class ReturnIn(BaseModel):
    """退单: why this assignment is not ours."""

    reason: ReturnReason
    note: Annotated[str, Field(max_length=1000), STORED] | None = Field(default=None, description="Stored redacted.")


class ExtensionIn(BaseModel):
    """延期: the new resolve deadline asked for, and why (e.g. main pipe replacement)."""

    reason: FreeText = Field(min_length=1, max_length=1000, description="Why, stored redacted.")
    resolve_due: IsoDateTime


class DecisionIn(BaseModel):
    approved: bool = Field(strict=True)
    note: Annotated[str, Field(max_length=1000), STORED] | None = Field(default=None, description="Stored redacted.")


class TierIn(BaseModel):
    tier: Tier


class ColdSnapIn(BaseModel):
    active: bool = Field(strict=True)
    until: IsoDateTime | None = None


class CallerNoteOut(BaseModel):
    """What a 12345 caller added to the case since (补充诉求, 催单): the unit holding it is told on its assignment."""

    kind: Literal["supplemented", "hurried"]
    text: str | None
    at: datetime


class AssignmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    unit_id: str
    unit_type: str
    round: int
    status: str
    dispatched_at: datetime
    sign_in_due: datetime
    on_site_due: datetime
    resolve_due: datetime
    signed_in_at: datetime | None
    arrived_at: datetime | None
    resolved_at: datetime | None
    returned_at: datetime | None = None
    return_reason: str | None = None
    action_taken: str | None
    measured_temp_c: float | None
    escalation_level: str | None = None
    clock: str | None = Field(default=None, description="The clock that matters now: sign_in, on_site or resolve.")
    seconds_left: float | None = Field(default=None, description="Negative once the deadline has passed.")
    category: str | None = None
    priority: str | None = None
    priority_resident: bool | None = None
    location: dict[str, Any] | None = None
    affected_households: int | None = Field(
        default=None, description="Distinct households the case's incident affects (影响 N 户); see CaseOut."
    )
    hurries: int = Field(default=0, description="12345's 催单 on the case (each a 催办 to the units holding it).")
    caller_notes: list[CallerNoteOut] = Field(
        default_factory=list,
        description="The case's 12345 补充诉求 and 催单 since this assignment was dispatched, oldest first.",
    )
    arrival_position: dict[str, float] | None = None
    photos: list[PhotoOut] = Field(default_factory=list, description="Photos of the fix (detail views only).")


class ExtensionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    assignment_id: str
    case_id: str
    unit_id: str
    reason: str
    requested_resolve_due: datetime
    status: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None


class CaseEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    actor: str
    at: datetime
    detail: dict[str, Any]


class CaseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    status: str
    tier: str
    category: str
    priority: str
    priority_resident: bool
    location: dict[str, Any]
    round: int
    redo_count: int
    bounce_count: int
    hurries: int = Field(default=0, description="12345's 催单 on the case (重复诉求).")
    affected_households: int = Field(
        description="Distinct households named by the case's reports (影响 N 户): intake groups the reports of one "
        "problem into the case; a household reported twice counts once, a report naming no household (a building's "
        "sensor, a building-wide outage) adds none."
    )
    report_ids: list[str] = Field(
        default_factory=list, description="The case's reports: the one that opened it first, then those grouped in."
    )
    supervised: bool
    escalation_level: str | None
    opened_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    overdue: bool = False
    assignments: list[AssignmentOut] = []
    timeline: list[CaseEventOut] = []
    extensions: list[ExtensionOut] = []


class RuleSetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    note: str
    created_by: str
    created_at: datetime
    activated_at: datetime = Field(description="When this version last came into force.")
    active: bool = Field(default=False, description="This version is the one in force.")
    document: dict[str, Any]


class CalendarYearIn(BaseModel):
    """An amendment of one year's working days, as the State Council publishes them each November: it replaces what
    the chinese-calendar package says of that year (an empty amendment: weekends only)."""

    holidays: list[date] = Field(
        max_length=60, description="Days off (法定节假日), weekends inside a holiday period included or not."
    )
    make_up_workdays: list[date] = Field(
        default_factory=list, max_length=20, description="Saturdays and Sundays worked (调休上班日)."
    )
    note: Annotated[str, Field(max_length=300), STORED] = Field(default="", description="Stored redacted.")


class CalendarYearOut(BaseModel):
    """A year's working-day calendar as deadlines are computed on it, and where it comes from."""

    year: int
    source: DaysSource = Field(
        description="amended (an admin's amendment), package (chinese-calendar) or weekends_only (neither knows it)."
    )
    holidays: list[date] = Field(description="Weekdays and weekend days off.")
    make_up_workdays: list[date] = Field(description="Saturdays and Sundays worked.")
    note: str | None = None
    updated_by: str | None = None
    updated_at: datetime | None = None
