"""HTTP shapes of the follow-up API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.followup import messages
from services.followup.domain import PLAUSIBLE_INDOOR_C
from shared.contracts.common import Satisfaction


class VisitIn(BaseModel):
    """What the grid worker brings back from the return visit."""

    room_temps_c: list[float] = Field(min_length=1, max_length=10, description="One reading per room, °C.")
    satisfaction: Satisfaction = Field(description="满意 satisfied / 基本满意 mostly / 不满意 dissatisfied")
    notes: str | None = Field(default=None, max_length=2000)
    photo_refs: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("room_temps_c")
    @classmethod
    def _plausible(cls, temps: list[float]) -> list[float]:
        low, high = PLAUSIBLE_INDOOR_C
        if any(not (low <= t <= high) for t in temps):
            raise ValueError(messages.TEMP_IMPLAUSIBLE)
        return temps


class VisitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    round: int
    category: str
    household_id: str | None
    building_id: str
    grid_id: str
    due_at: datetime
    status: str
    room_temps_c: list[float] | None
    min_temp_c: float | None
    satisfaction: str | None
    reopen_reason: str | None
    visited_by: str | None
    visited_at: datetime | None
