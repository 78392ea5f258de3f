"""HTTP shapes of the intake API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.common import Category


class AreaIn(BaseModel):
    id: str = Field(min_length=1, max_length=64)
    kind: Literal["district", "street", "community", "grid", "compound", "substation"]
    name: str = Field(min_length=1, max_length=200)
    parent_id: str | None = None


class BuildingIn(BaseModel):
    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    compound_id: str
    grid_id: str
    substation_id: str | None = None


class HouseholdIn(BaseModel):
    id: str = Field(min_length=1, max_length=64)
    building_id: str
    unit_no: str = Field(max_length=16)
    room: str = Field(max_length=16)
    resident_name: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=32)
    priority_group: Literal["elderly_alone", "disabled", "low_income"] | None = None


class RegistryIn(BaseModel):
    areas: list[AreaIn] = Field(default_factory=list, max_length=100_000)
    buildings: list[BuildingIn] = Field(default_factory=list, max_length=100_000)
    households: list[HouseholdIn] = Field(default_factory=list, max_length=1_000_000)


class GridReportIn(BaseModel):
    """一键上报 by a grid worker: a household (or a whole building), what is wrong, what was measured."""

    household_id: str | None = Field(default=None, max_length=64)
    building_id: str | None = Field(default=None, max_length=64)
    category: Category
    description: str = Field(min_length=1, max_length=2000)
    measured_temp_c: float | None = Field(default=None, ge=-10, le=40, description="Indoor temperature (°C).")
    photo_refs: list[str] = Field(default_factory=list, max_length=20)
    idempotency_key: str | None = Field(default=None, max_length=80, description="Resend-safe client key.")


class ReportEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    status: str
    note: str
    at: datetime


class ReportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    channel: str
    category: str
    priority: str
    priority_resident: bool
    status: str
    case_id: str | None
    location: dict[str, Any]
    reported_at: datetime
    timeline: list[ReportEventOut] = []
