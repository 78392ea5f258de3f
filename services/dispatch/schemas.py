"""HTTP shapes of the dispatch API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.common import UnitType


class UnitIn(BaseModel):
    id: str = Field(min_length=1, max_length=64)
    type: UnitType
    name: str = Field(min_length=1, max_length=200)
    district_id: str = Field(min_length=1, max_length=64)
    covers: dict[str, list[str]] = Field(
        default_factory=dict, description="scope kind (substation, compound, street, district) → ids"
    )


class UnitsIn(BaseModel):
    units: list[UnitIn] = Field(max_length=10_000)


class ResolveIn(BaseModel):
    action_taken: str = Field(min_length=1, max_length=2000, description="What was done (处置情况).")
    measured_temp_c: float | None = Field(default=None, ge=-10, le=40, description="Indoor temperature after the fix.")
    photo_refs: list[str] = Field(default_factory=list, max_length=20)


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
    action_taken: str | None
    measured_temp_c: float | None
    clock: str | None = Field(default=None, description="The clock that matters now: sign_in, on_site or resolve.")
    seconds_left: float | None = Field(default=None, description="Negative once the deadline has passed.")


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
    opened_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    assignments: list[AssignmentOut] = []
    timeline: list[CaseEventOut] = []
